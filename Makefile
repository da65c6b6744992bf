# Thin wrapper around meson: `make`, `make check`, `make demo`,
# `make install`, `make uninstall`, `make deb`, `make format`; `go` builds
# the Go client's programs, `clients` tests the Go and Python clients.
BUILD ?= build
MESON_OPTS ?=
PYTEST ?= /usr/bin/python3 -m pytest
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
ASAN_BUILD ?= build-asan

.PHONY: all deps check lint format unit system soak demo clean asan install uninstall deb \
	deb-deps fuzz go clients

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

unit: all
	meson test -C $(BUILD) --suite unit --print-errorlogs

# The soak test (test_soak.py) runs the daemon of $(ASAN_BUILD), for LeakSanitizer.
system: all asan go
	VMNET_BUILD=$(abspath $(BUILD)) VMNET_ASAN_BUILD=$(abspath $(ASAN_BUILD)) \
		$(PYTEST) -v -p no:cacheprovider test/system

soak: all asan
	VMNET_BUILD=$(abspath $(BUILD)) VMNET_ASAN_BUILD=$(abspath $(ASAN_BUILD)) \
		$(PYTEST) -v -s -p no:cacheprovider test/system/test_soak.py

# clang-format and clang-tidy over the C code (scripts/lint.sh).
lint: all
	./scripts/lint.sh $(BUILD)

format:
	./scripts/lint.sh --fix-format

# deb-deps: the package tests (test_package.py) build and boot the .debs.
check: deb-deps lint unit clients system

# The Go client (go/): its conformance runner and examples into $(BUILD)/go.
# The toolchain's caches live there too (no $$HOME needed), and it never
# downloads: the package uses the standard library only.
GO_ENV = GOFLAGS=-mod=mod GOPROXY=off GOENV=off GOTOOLCHAIN=local \
	GOCACHE=$(abspath $(BUILD))/go/cache GOPATH=$(abspath $(BUILD))/go/path
go: | deps
	mkdir -p $(BUILD)/go
	cd go && $(GO_ENV) go build -o $(abspath $(BUILD))/go/vmnet-broker-conformance-go ./internal/conformance
	cd go && $(GO_ENV) go build -o $(abspath $(BUILD))/go/vmnet-broker-bench-go ./internal/benchworker
	cd go && $(GO_ENV) go build -o $(abspath $(BUILD))/go/ ./examples/...

# The Go and Python clients without a daemon: go vet and go test, the Python
# package's unit tests, and every client (the C library too) against the
# golden messages and schema of protocol/. test/system runs them against the
# real daemon.
clients: all go
	@out=$$(gofmt -l go); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	cd go && $(GO_ENV) go vet ./... && $(GO_ENV) go test ./...
	VMNET_BUILD=$(abspath $(BUILD)) $(PYTEST) -v -p no:cacheprovider python/tests test/conformance

demo: all
	./scripts/demo.sh $(abspath $(BUILD))

# The daemon with AddressSanitizer, LeakSanitizer and UBSan (gcc; about 15 s to build).
$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Dtests=false $(MESON_OPTS)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) vmnet-brokerd dnsmasq-preload.so

# libFuzzer on every parser, FUZZ_SECONDS each, in its own clang build (docs/fuzzing.md).
fuzz:
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Benchmarks against what users do today, in namespaces of their own
# (docs/performance.md). BENCH_QUICK=1: fewer repetitions; BENCH_DOCS=1:
# also update docs/performance.md and its plot; BENCH_ONLY=port (or cold,
# scale, data) and BENCH_PORT_METHODS=library,go,python: a part of it.
.PHONY: bench
bench: all go
	@./bench/install-deps.sh
	/usr/bin/python3 bench/bench.py --build $(abspath $(BUILD)) \
		$(if $(BENCH_QUICK),--quick) $(if $(BENCH_DOCS),--docs) \
		$(if $(BENCH_ONLY),--only $(BENCH_ONLY)) \
		$(if $(BENCH_PORT_METHODS),--port-methods $(BENCH_PORT_METHODS))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# meson install with the prefix given here; DESTDIR stages it elsewhere.
install: all
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))
	@if [ -z "$(DESTDIR)" ]; then \
		echo "Installed. To run it as a service: systemd-sysusers; systemd-tmpfiles --create"; \
		echo "  systemctl daemon-reload; systemctl enable --now vmnet-brokerd.socket"; \
		echo "  usermod -aG vmnet-broker USER   # who may use it"; \
	fi

# Removes what the last `make install` from $(BUILD) installed (meson's log).
# On the live system (no DESTDIR) it first refuses while VMs hold leases,
# unless VMNET_BROKER_FORCE=1, then stops the units and removes every network.
uninstall:
	@if [ -z "$(DESTDIR)" ]; then \
		./scripts/check-leases.sh $(BUILD)/vmnet-broker || exit 1; \
		if [ -d /run/systemd/system ]; then \
			systemctl disable --now vmnet-brokerd.socket vmnet-brokerd.service 2>/dev/null || true; \
		fi; \
		if ls /run/vmnet-broker/*.state >/dev/null 2>&1; then \
			$(BUILD)/vmnet-brokerd --remove-all || exit 1; \
		fi; \
	fi
	ninja -C $(BUILD) uninstall

# Debian packages from the tree into ../ (debian/, dpkg-buildpackage).
deb-deps:
	@VMNET_DEB_DEPS=1 ./scripts/install-deps.sh

deb: deb-deps
	dpkg-buildpackage -us -uc -b
