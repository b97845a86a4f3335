#!/usr/bin/env bash
# check_cli_run.sh CLI LIB OUTDIR: `gomalloc run` end to end, with the
# shared library preloaded into real programs.
set -u
cli=$1 lib=$2 out=$3
mkdir -p "$out"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { # want cmd...
  local want=$1; shift
  "$@" >"$out/run.out" 2>"$out/run.err"
  local rc=$?
  [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$out/run.err")"
}

# Usage: help, missing program, bad flags and values: 0 / 2 with a message.
expect_rc 0 "$cli" run --help
grep -q 'usage: gomalloc run' "$out/run.out" || fail "run --help prints no usage"
expect_rc 0 "$cli" help run
for args in "" "--stats" "--nosuch -- true" "--stats=xml -- true" "--heapmap" "--stats-file" \
  "--heapmap= -- true"; do
  # shellcheck disable=SC2086
  expect_rc 2 "$cli" run $args
  [ -s "$out/run.err" ] || fail "run $args: exit 2 without a message"
done
expect_rc 1 "$cli" run --lib /nonexistent/libgomalloc.so -- true

# The program's exit status passes through; 127 / 126 as env(1) does.
expect_rc 0 "$cli" run -- /bin/true
expect_rc 7 "$cli" run -- sh -c 'exit 7'
expect_rc 127 "$cli" run -- /nonexistent/program
expect_rc 126 "$cli" run -- /
expect_rc 0 "$cli" run -- env GOMALLOC_DUMMY=1 true

# It really preloads gomalloc: the program sees it in its own maps.
expect_rc 0 "$cli" run -- cat /proc/self/maps
grep -q 'libgomalloc' "$out/run.out" || fail "libgomalloc is not mapped into the program"
# The library is found without --lib (beside the executable / build tree), and
# GOMALLOC_LIB is honoured.
expect_rc 0 env GOMALLOC_LIB="$lib" "$cli" run -- cat /proc/self/maps
grep -q 'libgomalloc' "$out/run.out" || fail "GOMALLOC_LIB not used"

# --stats: the size-class table and the totals on stderr, once, from the
# program itself (not from the helpers a shell forks).
expect_rc 0 "$cli" run --stats --lib "$lib" -- /bin/true
grep -q 'heap statistics' "$out/run.err" || fail "--stats printed nothing for /bin/true"
expect_rc 0 "$cli" run --stats -- ls -l /
grep -q 'class  bytes/obj  bytes/span  objects  tail waste  max waste |' "$out/run.err" ||
  fail "no size-class table: $(cat "$out/run.err")"
grep -q '^heap totals' "$out/run.err" || fail "no heap totals"
grep -Eq '^ +1 +8 +8192 +1024 +0 +87\.50% \|' "$out/run.err" ||
  fail "class 1 row missing or not in Go's columns"
# (bash, not dash: dash leaves with _exit, which runs no exit hooks.)
expect_rc 0 "$cli" run --stats -- bash -c 'ls / >/dev/null; cat /dev/null; true'
[ "$(grep -c 'heap statistics' "$out/run.err")" = 1 ] || fail "not exactly one process reported"
expect_rc 0 "$cli" run --stats --all-processes -- bash -c 'ls / >/dev/null; cat /dev/null; true'
[ "$(grep -c 'heap statistics' "$out/run.err")" = 3 ] || fail "--all-processes: not 3 reports"
# --stats-file, with %p.
rm -f "$out"/stats.*.txt
expect_rc 0 "$cli" run --stats-file "$out/stats.%p.txt" -- ls /
ls "$out"/stats.[0-9]*.txt >/dev/null 2>&1 || fail "--stats-file with %p wrote no file"
grep -q '^heap totals' "$out"/stats.[0-9]*.txt || fail "stats file has no totals"

# --heapmap from a real program.
rm -f "$out/run-heapmap.html"
expect_rc 0 "$cli" run --heapmap "$out/run-heapmap.html" -- ls -lR /usr/include
grep -q 'heap map written to' "$out/run.err" || fail "no heap map message"
grep -q '<svg id="heapsvg"' "$out/run-heapmap.html" || fail "no heap map written"
grep -q '<rect class="s" data-i="0"' "$out/run-heapmap.html" || fail "heap map has no spans"

# A heap map written to something that is not a regular file is written
# into it, never renamed over it: with the map sent to /dev/null, a rename
# replaced the device with a regular file (as root, for the whole machine).
# A FIFO in the scratch directory stands in for the device.
fifo=$out/map.fifo
rm -f "$fifo" "$out/fifo.html"
mkfifo "$fifo" || fail "mkfifo failed"
timeout 60 cat "$fifo" >"$out/fifo.html" &
reader=$!
expect_rc 0 "$cli" run --heapmap "$fifo" -- ls /usr/include
wait "$reader" 2>/dev/null || true
[ -p "$fifo" ] || fail "the heap map replaced the FIFO $fifo instead of writing into it"
grep -q '<svg id="heapsvg"' "$out/fifo.html" || fail "no heap map came through the FIFO"
rm -f "$fifo"
echo "PASS"
