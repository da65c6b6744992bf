#!/bin/sh
# Build the libFuzzer targets (clang, ASan, UBSan) in BUILD_DIR and run each
# for SECONDS. New inputs go to BUILD_DIR/corpus/TARGET (the committed seeds
# in test/fuzz/corpus/TARGET are read, never written); a crash, leak or
# timeout leaves its input in BUILD_DIR/artifacts/ and makes this fail.
#
#   scripts/fuzz.sh [BUILD_DIR [SECONDS [TARGET...]]]    (make fuzz FUZZ_SECONDS=60)
set -eu
cd "$(dirname "$0")/.."

build=${1:-build-fuzz}
seconds=${2:-60}
[ $# -gt 2 ] && shift 2 || set --
targets=${*:-request state config frr reply}

# clang and its sanitizer and libFuzzer runtimes: only this target needs them.
missing=""
for p in clang libclang-rt-14-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "fuzz: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
./scripts/install-deps.sh

if [ ! -f "$build/build.ninja" ]; then
	# b_lundef=false: clang does not link the ASan runtime into shared
	# objects, so -Wl,--no-undefined would fail on them.
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$build" $(for t in $targets; do echo "test/fuzz/fuzz-$t"; done)

mkdir -p "$build/artifacts"
failed=""
for t in $targets; do
	mkdir -p "$build/corpus/$t"
	log="$build/fuzz-$t.log"
	echo "fuzz-$t: ${seconds}s ..."
	rc=0
	"$build/test/fuzz/fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -dict=test/fuzz/fuzz.dict \
		-artifact_prefix="$build/artifacts/$t-" \
		"$build/corpus/$t" "test/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	corpus=$(find "$build/corpus/$t" -type f | wc -l)
	echo "fuzz-$t: ${execs:-?} execs, ${speed:-?} exec/s, cov ${cov:-?}, corpus $corpus, exit $rc"
	if [ "$rc" != 0 ]; then
		failed="$failed $t"
		grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" | head -n 20 >&2 || true
		echo "fuzz-$t: FINDING: see $log" >&2
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: findings in:$failed (inputs in $build/artifacts/)" >&2
	exit 1
fi
echo "fuzz: no findings"
