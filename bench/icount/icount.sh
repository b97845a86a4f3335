#!/bin/sh
# icount.sh BUILD_DIR [--check GOLDEN | --write GOLDEN]
#
# Counts the instructions of malloc's and free's fast paths and of a few
# fixed loops (icount.c) under callgrind, per operation (one malloc + one
# free). Prints "scenario metric value" lines:
#   malloc, free  self instructions of the exported malloc/free per call:
#                 the inlined fast path, plus the amortised branch out to
#                 the slow paths (which are counted in "total" only)
#   total         everything inside the loop, the program's own work too
# --check GOLDEN compares with the golden file and fails on a regression:
# more than 0.5 instructions per call on malloc/free, or 2% on a total.
# Needs valgrind; exits 77 (CTest skip) without it.
set -u
build=${1:?usage: icount.sh BUILD_DIR [--check|--write GOLDEN]}
mode=${2:-}
golden=${3:-}
prog=$build/bench/icount
command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not installed"; exit 77; }
[ -x "$prog" ] || { echo "icount: $prog not built" >&2; exit 2; }
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
ops=100000
out=$tmp/counts
for sc in pairs64 pairs-mixed pairs-medium pairs-mid churn random batch; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$sc" \
        --toggle-collect=measure "$prog" "$sc" >"$tmp/log.$sc" 2>&1 ||
        { cat "$tmp/log.$sc" >&2; exit 2; }
    callgrind_annotate "$tmp/cg.$sc" >"$tmp/ann.$sc" 2>/dev/null
    awk -v sc="$sc" -v ops="$ops" '
        function num(s) { gsub(/,/, "", s); return s + 0 }
        /PROGRAM TOTALS/ { total = num($1) }
        $NF ~ /libgomalloc/ && $0 ~ /:malloc / { m = num($1) }
        $NF ~ /libgomalloc/ && $0 ~ /:free / { f = num($1) }
        END {
            printf "%s malloc %.2f\n%s free %.2f\n%s total %.2f\n", sc, m / ops, sc, f / ops, sc, total / ops
        }' "$tmp/ann.$sc" >>"$out"
done
cat "$out"
case "$mode" in
    --write) cp "$out" "$golden" && echo "icount: wrote $golden" ;;
    --check)
        awk '
            NR == FNR { want[$1 " " $2] = $3; next }
            {
                k = $1 " " $2
                if (!(k in want)) { print "icount: " k " not in the golden file"; bad = 1; next }
                w = want[k]; limit = ($2 == "total") ? w * 1.02 : w + 0.5
                if ($3 > limit) {
                    printf "icount: REGRESSION %s: %.2f instructions per op, golden %.2f\n", k, $3, w
                    bad = 1
                } else if ($3 < w - (limit - w)) {
                    printf "icount: %s improved: %.2f (golden %.2f); update the golden file\n", k, $3, w
                }
            }
            END { exit bad }' "$golden" "$out" || exit 1
        echo "icount: within the golden counts" ;;
    "") ;;
    *) echo "icount: unknown mode $mode" >&2; exit 2 ;;
esac
