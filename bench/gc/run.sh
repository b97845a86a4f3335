#!/bin/sh
# bench/gc/run.sh [BUILD_DIR]: the collected-heap workloads (wl_gc*.c)
# under Boehm GC, gomalloc's collected heap and gomalloc's malloc/free
# (see gcbench.h). Builds each workload three ways into BUILD_DIR/bench/gc
# with cc, runs each REPEATS times (default 3; THREADS: the threaded
# workload's thread counts, default "1 2 4") and prints a Markdown table of
# medians: wall time, peak RSS, collections, max and total pause, and the
# time ratio against Boehm. Needs libgc-dev (bench/setup.sh installs it);
# without it the Boehm rows are left out.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
build=${1:-$root/build}
case "$build" in /*) ;; *) build=$(pwd)/$build ;; esac
out=$build/bench/gc
mkdir -p "$out"
cc=${CC:-cc}
repeats=${REPEATS:-3}
threads=${THREADS:-"1 2 4"}

[ -e "$build/libgomalloc-gc.so" ] || cmake --build "$build" --target gomalloc-gc >&2 || exit 1
have_boehm=0
[ -e /usr/include/gc.h ] && [ -e /usr/include/gc/gc.h ] && have_boehm=1
[ $have_boehm = 1 ] || echo "bench/gc: no libgc-dev, Boehm rows left out" >&2

for wl in gcbench gcthreads; do
    src=$here/wl_$wl.c
    [ $have_boehm = 1 ] && $cc -O2 -I"$here" "$src" -o "$out/$wl.boehm" -lgc -lpthread
    $cc -O2 -I"$here" -I"$root/include/gomalloc-gc" -I"$root/include" "$src" -o "$out/$wl.gomalloc" \
        -L"$build" -lgomalloc-gc -lgomalloc -lpthread -Wl,-rpath,"$build"
    $cc -O2 -DBENCH_MALLOC -I"$here" "$src" -o "$out/$wl.malloc" \
        -L"$build" -lgomalloc -lpthread -Wl,-rpath,"$build"
done

# median of the values on stdin
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

echo "| workload | heap | wall ms | peak RSS MiB | collections | max pause ms | total pause ms | time / Boehm |"
echo "|---|---|---|---|---|---|---|---|"
run_one() { # name args...
    name=$1; shift
    boehm_ms=""
    for kind in boehm gomalloc malloc; do
        bin=$out/$name.$kind
        [ -x "$bin" ] || continue
        [ $kind = boehm ] && [ $have_boehm = 0 ] && continue
        : >"$out/runs"
        i=0
        while [ $i -lt "$repeats" ]; do
            "$bin" "$@" >>"$out/runs" 2>&1
            i=$((i + 1))
        done
        label=$(awk 'NR==1{print $1}' "$out/runs")
        ms=$(field wall_ms <"$out/runs" | median)
        rss=$(field peak_rss_kib <"$out/runs" | median)
        gcs=$(field collections <"$out/runs" | median)
        maxp=$(field max_pause_ms <"$out/runs" | median)
        totp=$(field total_pause_ms <"$out/runs" | median)
        [ $kind = boehm ] && boehm_ms=$ms
        ratio=""
        [ -n "$boehm_ms" ] && ratio=$(awk -v a="$ms" -v b="$boehm_ms" 'BEGIN{printf "%.2f", a/b}')
        printf '| %s | %s | %s | %.1f | %s | %s | %s | %s |\n' "$label" "$kind" "$ms" \
            "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$gcs" "$maxp" "$totp" "$ratio"
    done
}
run_one gcbench
for t in $threads; do
    run_one gcthreads "$t"
done
