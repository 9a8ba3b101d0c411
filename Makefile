# Short commands over the meson build. `make test` and `make demo` work on a
# fresh Debian 12 machine (as root: missing packages are installed).
BUILD ?= build
SANITIZE ?= 0

.PHONY: all deps build test demo bench fuzz clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	@scripts/install-deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# SANITIZE=1: the whole suite against host programs built with
# ASan+UBSan in $(BUILD)-san (README, "Testing").
test: build
	SANITIZE=$(SANITIZE) scripts/run-tests $(BUILD)

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
