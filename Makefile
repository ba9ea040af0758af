# northstar — front door. Everything goes through CMake in build/.
#
#   make            build (installs missing Debian packages first)
#   make demo       the playground: simulated platform, models, server + dashboard on :8080
#   make test       build and run the test suite (ctest)
#   make asan       the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmarks against peers; figures go to docs/BENCHMARKS.md
#   make clean      remove build trees
#
# Variables: PORTABLE=1 (generic x86-64-v2 code), JOBS=N, CTEST_ARGS="-L unit",
# DEMO_ARGS="--port 9090 --users 2000" (see build/northstar demo --help).

JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
BUILD      ?= build
CMAKE_ARGS ?=
ifeq ($(PORTABLE),1)
CMAKE_ARGS += -DNS_PORTABLE=ON
endif
CTEST_ARGS ?=
DEMO_ARGS  ?=

.PHONY: all build deps deps-test deps-bench demo test asan tsan bench clean help

all: build

help:
	@sed -n '2,12p' Makefile

deps:
	@scripts/install-deps.sh build
deps-test:
	@scripts/install-deps.sh test
deps-bench:
	@scripts/install-deps.sh bench

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/northstar demo $(DEMO_ARGS)

test: deps-test $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

asan: deps-test
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_SANITIZE=ON $(CMAKE_ARGS)
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

tsan: deps-test
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNS_TSAN=ON $(CMAKE_ARGS)
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -j $(JOBS) -L tsan $(CTEST_ARGS)

bench: deps-bench build
	bench/run.sh $(BUILD)

clean:
	rm -rf build build-asan build-tsan
