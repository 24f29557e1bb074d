# synfin: `make demo` and `make test` do all the set-up on a fresh Debian 12 machine.
# Packages are installed with apt-get when missing (CI runs as root, without a terminal).

SHELL := /bin/bash
PRESET ?= default
BUILD_DIR := build
JOBS ?= $(shell nproc)

# Debian packages the build and the tests need.
DEB_PACKAGES := cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libfmt-dev \
  libcli11-dev nlohmann-json3-dev libbenchmark-dev clang libclang-rt-14-dev tshark \
  socat nftables iproute2 iputils-ping curl python3 procps

.PHONY: all deps configure build demo test sanitize fuzz fuzz-build fuzz-smoke bench clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

demo: build
	./$(BUILD_DIR)/synfin demo

test: build
	ctest --preset $(PRESET) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory fuzz-smoke

# ASan + UBSan build of everything, and its tests.
sanitize: deps
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize -j $(JOBS)
	ctest --preset sanitize --output-on-failure -j $(JOBS)

# libFuzzer targets built with clang (ASan + UBSan). FUZZ_RUNS bounds each target.
FUZZ_RUNS ?= 20000
fuzz-build: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

fuzz-smoke: fuzz-build
	@for t in build-fuzz/tests/fuzz/fuzz_*; do \
	  [ -x "$$t" ] || continue; \
	  echo "fuzz: $$(basename $$t) ($(FUZZ_RUNS) runs)"; \
	  "$$t" -runs=$(FUZZ_RUNS) -seed=1 -max_len=2048 -artifact_prefix=build-fuzz/ >/dev/null 2>build-fuzz/$$(basename $$t).log || \
	    { tail -40 build-fuzz/$$(basename $$t).log; exit 1; }; \
	done
	@echo "fuzz: replaying tests/fuzz/regressions"
	@build-fuzz/tests/fuzz/fuzz_connection $$(ls tests/fuzz/regressions/* | grep -v README) >build-fuzz/regressions.log 2>&1 || \
	  { tail -40 build-fuzz/regressions.log; exit 1; }

fuzz: fuzz-build
	@for t in build-fuzz/tests/fuzz/fuzz_*; do \
	  echo "fuzz: $$(basename $$t) (1,000,000 runs)"; \
	  "$$t" -runs=1000000 -max_len=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/ 2>&1 | tail -12; \
	done

# synfin against the kernel, side by side, then the microbenchmarks of the hot paths.
bench: build
	./$(BUILD_DIR)/synfin bench all
	./$(BUILD_DIR)/bench/synfin-microbench

clean:
	rm -rf build build-sanitize build-fuzz
