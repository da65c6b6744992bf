#!/bin/sh
# The C code's habits, checked: clang-format (.clang-format) finds no
# difference, and clang-tidy (.clang-tidy) no warning, in the daemon, the
# library, the CLI, the benchmark and their tests.
#
#   scripts/lint.sh [BUILD_DIR]     (make lint; BUILD_DIR has compile_commands.json)
#   scripts/lint.sh --fix-format    (make format: rewrite the files in place)
set -eu
cd "$(dirname "$0")/.."

files() {
	git ls-files 'src/*.[ch]' 'lib/*.[ch]' 'cli/*.[ch]' 'include/*.h' \
		'test/unit/*.[ch]' 'test/fuzz/*.[ch]' 'test/conformance/*.[ch]' 'bench/*.[ch]' 2>/dev/null ||
		find src lib cli include test/unit test/fuzz test/conformance bench -name '*.[ch]'
}

if [ "${1:-}" = --fix-format ]; then
	files | xargs clang-format -i
	exit 0
fi
build=${1:-build}

status=0
for f in $(files); do
	if ! clang-format "$f" | cmp -s "$f" -; then
		echo "lint: $f is not formatted as .clang-format says (make format):" >&2
		clang-format "$f" | diff -u "$f" - | head -20 >&2 || true
		status=1
	fi
done

# Every .c file the build compiles, with the build's flags; headers through
# them (.clang-tidy's HeaderFilterRegex).
if [ ! -f "$build/compile_commands.json" ]; then
	echo "lint: no $build/compile_commands.json (make first)" >&2
	exit 1
fi
if ! files | grep '\.c$' | xargs -P "$(nproc)" -n 4 \
	clang-tidy -p "$build" --quiet >"$build/clang-tidy.log" 2>&1; then
	grep -E 'warning:|error:' "$build/clang-tidy.log" | sort -u >&2
	echo "lint: clang-tidy found the above ($build/clang-tidy.log has the details)" >&2
	status=1
fi
exit $status
