#!/usr/bin/env bash
# heaptrack.sh LIBPATH PROGRAM
#
# heaptrack (Debian package heaptrack) records a program that uses gomalloc
# preloaded, when gomalloc comes after heaptrack's own preload:
#
#   LD_PRELOAD=LIBPATH heaptrack PROGRAM
#
# heaptrack's script prepends libheaptrack_preload.so to LD_PRELOAD; its
# malloc & co record each call and pass it on with dlsym(RTLD_NEXT), which
# finds gomalloc's. (`heaptrack env LD_PRELOAD=LIBPATH PROGRAM` drops
# heaptrack's preload, and `heaptrack gomalloc run -- PROGRAM` puts gomalloc
# first, shadowing it: both record nothing of PROGRAM.)
#
# PROGRAM is tests/preload/heaptrack_prog.c. Checked: heaptrack_print counts
# its 1010 allocation calls and names gm_leaked_block for 10 leaked blocks
# (40.96K), and PROGRAM's GOMALLOC_STATS report shows that gomalloc served
# them (at least 1010 allocations). Exit 0 if all holds, 1 if not, 77
# (CTest skip) without heaptrack.
set -u
lib=${1:?usage: heaptrack.sh LIBPATH PROGRAM} prog=${2:?}
for tool in heaptrack heaptrack_print; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-heaptrack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi
}

# heaptrack waits for its preload to open the data pipe: if the preload's
# malloc were never reached it would wait for ever, hence the timeout.
# Every process writes its own statistics (the script's too): %p.
LD_PRELOAD=$lib GOMALLOC_STATS=1 GOMALLOC_STATS_FILE="$tmp/stats.%p" \
  timeout -k 5 60 heaptrack -o "$tmp/profile" "$prog" >"$tmp/heaptrack.log" 2>&1
rc=$?
check "heaptrack exits 0 (exit $rc)" test "$rc" -eq 0 || cat "$tmp/heaptrack.log"
data=$(ls "$tmp"/profile.* 2>/dev/null | head -1)
heaptrack_print --print-leaks 1 -f "$data" >"$tmp/print.txt" 2>&1
calls=$(sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p' "$tmp/print.txt")
check "heaptrack counted ${calls:-no} allocation calls (>= 1010)" test "${calls:-0}" -ge 1010
leaks_named() { grep -A1 '^40.96K leaked over 10 calls from$' "$tmp/print.txt" | grep -qx gm_leaked_block; }
check "heaptrack reports gm_leaked_block's 10 leaks" leaks_named
name=$(basename "$prog")
report=$(grep -l "heap statistics of $name," "$tmp"/stats.* 2>/dev/null | head -1)
allocs=$(sed -n 's/^ *\([0-9]*\) allocs, .*since start.*/\1/p' "${report:-/dev/null}" | head -1)
check "gomalloc served $name: ${allocs:-no} allocations (>= 1010)" test "${allocs:-0}" -ge 1010
if ((failed > 0)); then
  echo "--- heaptrack_print"; head -40 "$tmp/print.txt"
fi
echo "$passed passed, $failed failed"
((failed == 0))
