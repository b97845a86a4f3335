# Thin wrapper over CMake. `make` builds a release, `make test` builds and runs
# every test, `make bench` runs the benchmark suite against glibc, jemalloc,
# tcmalloc and mimalloc. SAN=address|undefined|thread gives a sanitizer build,
# DEBUG=1 a build with internal invariant checks, VALGRIND=1 a library that
# describes its heap to valgrind's memcheck; each lives in its own dir.
# `make icount` checks the fast paths' instruction counts (callgrind).
# `make fuzz` runs the gm_* API fuzzer (clang, libFuzzer, ASan+UBSan) for
# FUZZ_SECONDS in build-fuzz (build-fuzz-debug with DEBUG=1).
# `make package` builds the Debian package (build-package/gomalloc_*.deb).
BUILD_TYPE ?= Release
SAN ?=
DEBUG ?=
VALGRIND ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

BUILD_DIR := build$(if $(SAN),-$(SAN))$(if $(DEBUG),-debug)$(if $(VALGRIND),-valgrind)
CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=$(if $(SAN),RelWithDebInfo,$(BUILD_TYPE)) \
	-DGM_SANITIZE=$(SAN) -DGM_DEBUG=$(if $(DEBUG),ON,OFF) \
	-DGM_VALGRIND=$(if $(VALGRIND),ON,OFF) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	-DGM_BUILD_TESTS=ON -DGM_BUILD_BENCH=ON

.PHONY: bench-gc all build configure test bench icount fuzz install package clean

all: build

# Configure every time (cheap when nothing changed), so the flags above win
# over whatever an earlier configure left in the cache.
configure:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) > /dev/null

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# TSan's deadlock detector cannot track the census, which holds every
# central lock at once (136); races are still reported.
TEST_ENV := $(if $(filter thread,$(SAN)),TSAN_OPTIONS="detect_deadlocks=0 $(TSAN_OPTIONS)")

test: build
	cd $(BUILD_DIR) && $(TEST_ENV) ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build
	@if [ -x bench/run.sh ]; then bench/run.sh $(BUILD_DIR); \
	else echo "bench: no benchmark suite yet"; fi
	@$(MAKE) --no-print-directory bench-gc

# The collected heap against Boehm GC and gomalloc's malloc/free
# (bench/gc/run.sh; part of `make bench`): the table also goes to
# bench/results/gc-latest.md.
bench-gc: build
	@mkdir -p bench/results
	@echo; echo "## The collected heap: Boehm GC, gomalloc's collected heap, gomalloc malloc/free"; echo
	@bench/gc/run.sh $(BUILD_DIR) | tee bench/results/gc-latest.md

# Instruction counts of the fast paths and a few fixed loops (callgrind),
# against bench/icount/icount.golden; ICOUNT=--write rewrites the golden file.
ICOUNT ?= --check
icount: build
	bench/icount/icount.sh $(BUILD_DIR) $(ICOUNT) bench/icount/icount.golden

# The fuzzer: tests/fuzz/fuzz_api.c. New inputs go to build-fuzz/corpus
# (the checked-in seeds in tests/fuzz/corpus are only read), crashes to
# build-fuzz/artifacts. FUZZ_ARGS adds libFuzzer options (e.g. -jobs=2).
FUZZ_SECONDS ?= 60
FUZZ_DIR := build-fuzz$(if $(DEBUG),-debug)
fuzz:
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_SANITIZE=address \
		-DGM_DEBUG=$(if $(DEBUG),ON,OFF) -DGM_FUZZ=ON -DGM_BUILD_TESTS=ON -DGM_BUILD_BENCH=OFF > /dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_api
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	$(FUZZ_DIR)/tests/fuzz/fuzz_api -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=4096 \
		-max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/ $(FUZZ_ARGS) \
		$(FUZZ_DIR)/corpus tests/fuzz/corpus

install: build
	cmake --install $(BUILD_DIR)

# The .deb (cmake/packaging.cmake): a release build of its own, configured
# for the prefix /usr so that the libraries go to Debian's multiarch libdir.
PACKAGE_DIR := build-package
package:
	cmake -S . -B $(PACKAGE_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
		-DGM_SANITIZE= -DGM_DEBUG=OFF -DGM_BUILD_TESTS=OFF -DGM_BUILD_BENCH=OFF > /dev/null
	cmake --build $(PACKAGE_DIR) -j $(JOBS)
	cd $(PACKAGE_DIR) && cpack -G DEB
	@ls $(PACKAGE_DIR)/*.deb

clean:
	rm -rf build build-*
