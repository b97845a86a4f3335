#!/bin/sh
# Runs the benchmark suite against gomalloc and the peer allocators.
#
#   bench/run.sh [BUILD_DIR]        (what `make bench` runs; BUILD_DIR=build)
#
# BUILD_DIR holds libgomalloc.so and, in bench/, the workload programs; a
# relative path is taken from the current directory, else from the repository
# root. Environment: QUICK=1, REPEATS=n, THREADS=n, SCALE=x,
# ALLOCATORS="gomalloc glibc jemalloc tcmalloc mimalloc", WORKLOADS="...",
# TIMEOUT=s, RESULTS_DIR=dir, NO_SETUP=1 (see bench/README.md).
# Markdown on stdout and in bench/results/, progress on stderr.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-build}
[ $# -gt 0 ] && shift
case "$build" in
    /*) ;;
    *) if [ -d "$build" ]; then build=$(cd "$build" && pwd); else build="$root/$build"; fi ;;
esac

if [ "${NO_SETUP:-0}" != 1 ]; then
    sh "$here/setup.sh"
fi

# Build what is missing (make bench has built everything already).
if [ ! -f "$build/CMakeCache.txt" ]; then
    echo "bench: configuring $build" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2 || exit 1
fi
if [ ! -x "$build/bench/alloc_check" ]; then
    echo "bench: building the workloads in $build/bench" >&2
    cmake --build "$build" --target bench_programs -j "$(nproc 2>/dev/null || echo 2)" >&2 || exit 1
fi
if [ ! -e "$build/libgomalloc.so" ]; then
    echo "bench: building libgomalloc.so" >&2
    cmake --build "$build" --target gomalloc -j "$(nproc 2>/dev/null || echo 2)" >&2 ||
        echo "bench: libgomalloc.so did not build; carrying on without gomalloc" >&2
fi

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || {
    echo "bench: python3 is needed (apt-get install python3)" >&2
    exit 1
}
exec "$py" "$here/runner.py" --build "$build" "$@"
