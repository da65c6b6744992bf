# Thin wrapper around meson: `make`, `make check`, `make demo`.
BUILD ?= build
MESON_OPTS ?=
PYTEST ?= /usr/bin/python3 -m pytest

.PHONY: all deps check unit system demo clean asan

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

unit: all
	meson test -C $(BUILD) --suite unit --print-errorlogs

system: all
	VMNET_BUILD=$(abspath $(BUILD)) $(PYTEST) -v -p no:cacheprovider test/system

check: unit system

demo: all
	./scripts/demo.sh $(abspath $(BUILD))

clean:
	rm -rf $(BUILD)
