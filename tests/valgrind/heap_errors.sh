#!/usr/bin/env bash
# heap_errors.sh SOURCE PROGRAM [LIB]
#
# Runs PROGRAM (heap_errors.c built -O0 -g) under valgrind's memcheck, with
# LIB preloaded if given (else PROGRAM is linked with it), and checks that
# memcheck reports each line of SOURCE marked `/* expect: WORDS */` with a
# report starting with WORDS ("Invalid read", "Invalid write", "Conditional
# jump", "definitely lost"), whose first frame in SOURCE is that line, and
# nothing else: the error count is the number of marks. A use after free
# must also say where the block was freed, an overrun which block it ran
# past. Needs the library built with GM_VALGRIND (libgomalloc_vg.so): the
# plain one describes no blocks to memcheck, and this fails.
#
# --soname-synonyms=somalloc=nouserintercepts: since 3.12 memcheck replaces
# malloc in any object that defines it, gomalloc included; with it, only
# in the system libraries (which gomalloc shadows).
# Exit status 0 if all holds, 1 if not, 77 (CTest skip) without valgrind.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 SOURCE PROGRAM [LIB]" >&2; exit 2; }
SRC=$1
PROG=$2
LIB=${3:-}
command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not installed"; exit 77; }
unset LD_PRELOAD VALGRIND_OPTS GOMALLOC_STATS GOMALLOC_HEAPMAP
name=$(basename "$SRC")
work=$(mktemp -d "${TMPDIR:-/tmp}/gm_heap_errors.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/vg.log

env ${LIB:+LD_PRELOAD="$LIB"} valgrind --tool=memcheck --soname-synonyms=somalloc=nouserintercepts \
  --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
  --num-callers=12 --log-file="$log" "$PROG" >"$work/out" 2>&1 || true
grep -qx 'heap_errors: done' "$work/out" || { echo "FAIL: the program did not finish:"; cat "$work/out" "$log"; exit 1; }

# One record per report (reports are separated by an empty "==pid==" line):
# its first line, then "line N" for its first frame in SOURCE, then the
# whole record on one line (for the free'd / alloc'd detail).
records=$(awk -v src="$name" '
  /^==[0-9]+== *$/ { if (head != "") print head "\t" line "\t" all; head = ""; line = ""; all = ""; next }
  /^==[0-9]+== / {
    t = $0; sub(/^==[0-9]+== +/, "", t)
    if (head == "") head = t
    all = all " | " t
    # "(heap_errors.c:N)", or with a directory (clang records one)
    if (line == "" && match(t, "[(/]" src ":[0-9]+\\)")) {
      line = substr(t, RSTART + length(src) + 2, RLENGTH - length(src) - 3)
    }
  }
  END { if (head != "") print head "\t" line "\t" all }' "$log")

fail=0 n=0
while IFS=: read -r lineno rest; do
  want=$(sed -n 's/.*expect: \(.*[^ ]\) *\*\/.*/\1/p' <<<"$rest")
  n=$((n + 1))
  hit=$(awk -F'\t' -v w="$want" -v l="$lineno" 'index($1, w) && $2 == l' <<<"$records" | head -n 1)
  if [[ -z $hit ]]; then
    echo "FAIL: no \"$want\" reported at $name:$lineno"
    fail=1
    continue
  fi
  case $want in
  "Invalid read"* | "Invalid write"*)
    if ! grep -qE "bytes (inside a block of size [0-9,]+ free'd|after a (recently re-allocated )?block of size [0-9,]+ alloc'd)" <<<"$hit"; then
      echo "FAIL: the report at $name:$lineno does not name the block: ${hit##*$'\t'}"
      fail=1
      continue
    fi ;;
  esac
  echo "ok: \"$want\" at $name:$lineno"
done < <(grep -n 'expect: ' "$SRC")

errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
if [[ $errors != "$n" ]]; then
  echo "FAIL: memcheck counted ${errors:-no} errors, $n expected"
  fail=1
fi
if ((fail)); then
  echo "--- memcheck log"
  sed 's/^/  | /' "$log"
  exit 1
fi
echo "PASS: $n reports, each at its line (${LIB:+preloaded}${LIB:-linked})"
