# Short commands over the meson build. `make test` and `make demo` work on a
# fresh Debian 12 machine (as root: missing packages are installed).
BUILD ?= build

.PHONY: all deps build test demo bench fuzz clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	@scripts/install-deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	scripts/run-tests $(BUILD)

demo: build
	scripts/demo $(BUILD)

bench: build
	scripts/bench $(BUILD)

# libFuzzer targets (docs/fuzzing.md): FUZZ_SECS seconds each (default 60),
# in their own clang build directory (build-fuzz).
fuzz:
	scripts/fuzz

clean:
	rm -rf $(BUILD)
