#!/usr/bin/env bash
# fit_figures.sh BUILD_DIR [CASE...]   (cases: python3 sqlite3 sort gxx)
#
# The figures for README's "Fitting the size classes": for each real program,
# the histogram of its request sizes, a table fitted to it (gomalloc
# sizeclasses --fit), and then runs on gomalloc with Go's classes and with the
# classes of `--fit --fine` and of `--fit --fine --align8` (with
# GOMALLOC_ALIGN8=1), alternating, REPS times each: median wall time and
# peak RSS (GNU time's %M, the largest process of the run), plus the rounding
# waste on that histogram of Go's classes and of three fits (Go's steps,
# --fine, --fine --align8), as the fit computes it. One markdown row per case.
#
# The histogram comes from `gomalloc run --profile DIR` when this build's CLI
# has it; else from a small LD_PRELOAD counter built here (counts what the
# profile format counts: malloc, calloc, realloc with n > 0, the aligned calls;
# every process of the run, summed). Not a CTest test: it takes minutes and
# its numbers depend on the machine. Environment: REPS (default 3),
# FIT_WORK (work dir, default a fresh one under /tmp, kept).
set -euo pipefail
BUILD=$(realpath "${1:?usage: fit_figures.sh BUILD_DIR [CASE...]}")
shift
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=(python3 sqlite3 sort gxx)
REPS=${REPS:-3}
LIB=$BUILD/libgomalloc.so
CLI=$BUILD/tools/gomalloc
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${FIT_WORK:-$(mktemp -d /tmp/fit_figures.XXXXXX)}
mkdir -p "$WORK"
export LC_ALL=C TZ=UTC
unset GOMALLOC_SIZECLASSES GOMALLOC_ALIGN8 PYTHONMALLOC
[[ -x /usr/bin/time ]] || { echo "fit_figures: needs GNU time (/usr/bin/time)" >&2; exit 2; }

# ---- the fallback counter ------------------------------------------------------
SHIM=$WORK/sizecount.so
if ! "$CLI" run --help 2>/dev/null | grep -q -- --profile; then
  cat >"$WORK/sizecount.c" <<'EOF'
/* Counts request sizes, then calls gomalloc's gm_* functions (linked, so no
 * dlsym bootstrap). At exit writes $FIT_SIZES_DIR/sizes.PID.tsv: "size count". */
#define _GNU_SOURCE
#include <gomalloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static _Atomic unsigned long long cnt[32769], large;
static void count(size_t n) {
  if (n <= 32768) atomic_fetch_add_explicit(&cnt[n], 1, memory_order_relaxed);
  else atomic_fetch_add_explicit(&large, 1, memory_order_relaxed);
}
void *malloc(size_t n) { count(n); return gm_malloc(n); }
void *calloc(size_t a, size_t b) { size_t n; if (!__builtin_mul_overflow(a, b, &n)) count(n); return gm_calloc(a, b); }
void *realloc(void *p, size_t n) { if (n) count(n); return gm_realloc(p, n); }
void free(void *p) { gm_free(p); }
void *aligned_alloc(size_t a, size_t n) { count(n); return gm_aligned_alloc(a, n); }
void *memalign(size_t a, size_t n) { count(n); return gm_memalign(a, n); }
int posix_memalign(void **o, size_t a, size_t n) { count(n); return gm_posix_memalign(o, a, n); }
size_t malloc_usable_size(void *p) { return gm_usable_size(p); }
__attribute__((destructor)) static void dump(void) {
  const char *d = getenv("FIT_SIZES_DIR");
  if (!d) return;
  char path[4096];
  snprintf(path, sizeof path, "%s/sizes.%ld.tsv", d, (long)getpid());
  FILE *f = fopen(path, "w");
  if (!f) return;
  for (int i = 0; i <= 32768; i++)
    if (cnt[i]) fprintf(f, "%d %llu\n", i, (unsigned long long)cnt[i]);
  fprintf(f, "large %llu\n", (unsigned long long)large);
  fclose(f);
}
EOF
  cc -O2 -shared -fPIC -I"$HERE/../../include" "$WORK/sizecount.c" -o "$SHIM" \
    -L"$BUILD" -Wl,-rpath,"$BUILD" -lgomalloc
fi

# profile CASE_DIR CMD...: DIR/sizes.tsv in the profile format.
profile() {
  local dir=$1/prof
  shift
  rm -rf "$dir"
  mkdir -p "$dir"
  if [[ -f $SHIM ]]; then
    FIT_SIZES_DIR=$dir LD_PRELOAD=$SHIM "$@" >/dev/null 2>&1
    cat "$dir"/sizes.*.tsv | awk '$1 == "large" { large += $2; next } { c[$1] += $2 }
      END { print "lo\thi\tcount\tbytes"; for (s = 0; s <= 32768; s++) if (c[s]) printf "%d\t%d\t%d\t%d\n", s, s, c[s], s * c[s];
            if (large) printf "32769\t1099511627776\t%d\t0\n", large }' >"$dir/sizes.tsv"
  else
    "$CLI" run --profile "$dir" -- "$@" >/dev/null 2>&1
  fi
}

# measure OUT TABLE ALIGN8 CMD...: appends "wall_s peak_rss_kib" of one run.
measure() {
  local out=$1 table=$2 align8=$3
  shift 3
  GOMALLOC_SIZECLASSES=$table GOMALLOC_ALIGN8=$align8 LD_PRELOAD=$LIB /usr/bin/time -o "$out.one" -f '%e %M' "$@" >/dev/null 2>"$out.err" ||
    { echo "fit_figures: run failed: $* ($(tail -n 3 "$out.err"))" >&2; exit 1; }
  cat "$out.one" >>"$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- cases: each sets up in $1 and sets CMD ----------------------------------------
PY=$(command -v python3.11 || command -v python3 || true)
PY=$("$PY" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$PY")
setup_python3() {
  cat >"$1/work.py" <<'EOF'
import json, re, collections
d = {}
for i in range(300000):
    d["key-%d" % i] = [i, str(i) * (i % 7), (i, i * 2), {"v": i}]
s = json.dumps({k: v for k, v in list(d.items())[:60000]})
t = json.loads(s)
words = re.findall(r"\w+", s)
c = collections.Counter(words)
print(len(d), len(s), len(t), len(c.most_common(100)))
EOF
  CMD=(env PYTHONMALLOC=malloc "$PY" "$1/work.py")
}
setup_sqlite3() {
  cat >"$1/q.sql" <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 300000)
INSERT INTO t SELECT i, (i*7919) % 100003, printf('row-%d-%x', i, (i*2654435761) % 4294967296), (i % 997) * 1.5 FROM n;
COMMIT;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
SELECT count(*), sum(a), count(DISTINCT b) FROM t;
SELECT a % 1000, count(*) FROM t GROUP BY a % 1000 ORDER BY 2 DESC LIMIT 3;
EOF
  CMD=(sh -c "rm -f '$1/db' && sqlite3 '$1/db' < '$1/q.sql'")
}
setup_sort() {
  awk 'BEGIN { srand(7); for (i = 0; i < 1000000; i++)
    printf "%c%c%06d %x %d %s\n", 97 + int(rand() * 26), 97 + int(rand() * 26), int(rand() * 1000000),
      int(rand() * 65536), int(rand() * 100000) - 50000, substr("abcdefghijklmnop", 1 + i % 16) }' >"$1/input"
  CMD=(sort --parallel=2 -S 200M -T "$1" -t ' ' -k3,3n -k1,1r -o "$1/out" "$1/input")
}
setup_gxx() {
  cp "$HERE/../../tests/preload/stl_workload.cpp" "$1/"
  CMD=(g++ -std=c++17 -O2 -g -pthread -c "$1/stl_workload.cpp" -o "$1/stl.o")
}

# waste FILE: "<bytes> B (<pct>)" with the fitted classes, or with Go's if go.
waste() {
  local which="these classes"
  [[ ${2:-} == go ]] && which="Go's classes"
  sed -n "s/^# rounding waste with $which: *\([0-9]*\) B (\([0-9.]*%\).*/\2/p" "$1"
}
mib() { echo "$1 / 1024" | bc -l | xargs printf '%.1f'; }

echo "| program | requests (small) | rounding waste: Go's classes | fit | fit --fine | fit --fine --align8 | peak RSS: Go's | fit --fine | fit --fine --align8 | wall: Go's | fit --fine | fit --fine --align8 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in "${CASES[@]}"; do
  d=$WORK/$c
  mkdir -p "$d"
  "setup_$c" "$d"
  cmd=("${CMD[@]}")
  profile "$d" "${cmd[@]}"
  "$CLI" sizeclasses --fit "$d/prof" >"$d/fit.tsv"
  "$CLI" sizeclasses --fit "$d/prof" --fine >"$d/fine.tsv"
  "$CLI" sizeclasses --fit "$d/prof" --fine --align8 >"$d/fine8.tsv"
  rm -f "$d/go.m" "$d/fine.m" "$d/fine8.m"
  for ((r = 0; r < REPS; r++)); do
    measure "$d/go.m" "" 0 "${cmd[@]}"
    measure "$d/fine.m" "$d/fine.tsv" 0 "${cmd[@]}"
    measure "$d/fine8.m" "$d/fine8.tsv" 1 "${cmd[@]}"
  done
  nreq=$(sed -n 's/^# .*: [0-9]* classes for \([0-9]*\) requests.*/\1/p' "$d/fit.tsv")
  rss() { mib "$(awk '{ print $2 }' "$d/$1.m" | median)"; }
  wall() { awk '{ print $1 }' "$d/$1.m" | median; }
  printf '| %s | %s | %s | %s | %s | %s | %s MiB | %s MiB | %s MiB | %s s | %s s | %s s |\n' "$c" "$nreq" \
    "$(waste "$d/fit.tsv" go)" "$(waste "$d/fit.tsv")" "$(waste "$d/fine.tsv")" "$(waste "$d/fine8.tsv")" \
    "$(rss go)" "$(rss fine)" "$(rss fine8)" "$(wall go)" "$(wall fine)" "$(wall fine8)"
done
echo "(work dir: $WORK; runs: $REPS each, alternating; waste in % of the bytes requested;"
echo " the wall times of each run are in \$WORK/CASE/*.m)"
