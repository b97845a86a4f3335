#!/usr/bin/env bash
# valgrind.sh LIBPATH CASE [STL_WORKLOAD]
#
# The programs of real_programs.sh, at a much smaller scale, run with
# LD_PRELOAD=LIBPATH under `valgrind --tool=memcheck`, to catch the
# allocator's own invalid reads and writes, uses of uninitialised values,
# bad syscall arguments and overlapping copies. Cases:
#   python3  a /usr/bin/python3 script (dicts, json, re, decimal, zlib, gc,
#            threads), PYTHONMALLOC=malloc
#   sqlite3  build, index, update and check a table of 20000 rows
#   git      commits, gc --aggressive, fsck --strict, clone --no-local, log -p
#   xz       xz -T2 compress/decompress of ~1.5 MB in 256 KiB blocks (threads)
#   sort     sort --parallel=2 -S 1M of 60000 lines (threads, temp-file merges)
#   gxx      g++ -O1 -g of a small C++ file and its link, then STL_WORKLOAD
#            (tests/preload/stl_workload.cpp, many threads of new/delete)
# Each case runs its commands twice: natively (no preload, no valgrind), and
# preloaded under memcheck; what they produce must be identical. Then:
#   - every process's memcheck log says "ERROR SUMMARY: 0 errors";
#   - every log says "total heap usage: 0 allocs": valgrind's own malloc
#     served nothing, so every block came from the library. (Since 3.12,
#     memcheck replaces malloc in *any* object that defines it, the
#     preloaded library included; --soname-synonyms=somalloc=nouserintercepts
#     limits it to the system libraries, libc and libstdc++, which the
#     preload shadows.)
#   - every process a case starts under valgrind wrote a GOMALLOC_STATS
#     report with allocs > 0: the library was loaded and did the allocating
#     (their children may not, see report_logs).
# Exit status 0 if all holds, 1 if not, 77 (CTest skip) without valgrind or
# without the case's program.
#
# What memcheck can and cannot see here. The library does not describe its
# blocks to valgrind (no client requests), so memcheck sees its heap as
# plain mapped memory (mmap'd memory starts out defined): overruns of a
# block, uses of freed blocks and reads of uninitialised heap bytes go
# unseen, the programs' and the library's alike. What it does check is the
# library's own code: stack and static data read before being written
# (followed through copies into the heap and the metadata), the arguments
# of its syscalls (mmap, mprotect, madvise, ...), overlapping copies,
# accesses outside every mapping, and that it runs at all under valgrind's
# serialised threads and address-space layout.
#
# A process image replaced by exec in the same pid overwrites its log (%p),
# so its errors would be lost: env runs outside valgrind, and variables are
# passed by assignment, for that reason; the programs here fork before they
# exec (git's run_command, g++'s driver, dash's sh -c).
#
# Environment: VALGRIND_TMPDIR (work dir parent, default $TMPDIR or /tmp),
# VALGRIND_KEEP=1 keeps the work dir, VALGRIND_TIMEOUT scales the timeouts.
# The case functions are called by name (case_$CASE):
# shellcheck disable=SC2317
set -euo pipefail
shopt -s inherit_errexit

ALL_CASES=(python3 sqlite3 git xz sort gxx)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  echo "usage: $0 LIBPATH CASE [STL_WORKLOAD]   (cases: ${ALL_CASES[*]})" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
[[ -f $1 ]] || { echo "valgrind.sh: no such library: $1" >&2; exit 2; }
LIB=$(realpath "$1")
CASE=$2
STL=${3:+$(realpath "$3")}
[[ " ${ALL_CASES[*]} " == *" $CASE "* ]] || { echo "valgrind.sh: unknown case '$CASE'" >&2; usage; }

unset LD_PRELOAD LD_LIBRARY_PATH PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONMALLOC \
  MALLOC_CONF GIT_DIR GIT_WORK_TREE XZ_DEFAULTS XZ_OPT GOMALLOC_STATS GOMALLOC_STATS_FILE \
  GOMALLOC_HEAPMAP GOMALLOC_REPORT_PID VALGRIND_OPTS
export LC_ALL=C TZ=UTC
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME="gomalloc test" GIT_AUTHOR_EMAIL="test@gomalloc.invalid" \
  GIT_COMMITTER_NAME="gomalloc test" GIT_COMMITTER_EMAIL="test@gomalloc.invalid"
TIMEOUT_SCALE=${VALGRIND_TIMEOUT:-1}

skip() { echo "SKIP $CASE: $*"; exit 77; }
fail() { echo "FAIL $CASE: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 not found (Debian package $2 is not installed)"; }

need valgrind valgrind
WORK=$(mktemp -d "${VALGRIND_TMPDIR:-${TMPDIR:-/tmp}}/gm_valgrind.XXXXXX")
cleanup() { if [[ ${VALGRIND_KEEP:-0} != 1 ]]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT
LOGS=$WORK/logs
mkdir -p "$LOGS"
exec </dev/null # nothing reads the caller's stdin
HOME=$WORK
export HOME

echo "valgrind.sh: $CASE, library $LIB, $(valgrind --version)"

# R SECONDS CMD...: run CMD natively (MODE=native) or preloaded under
# memcheck (MODE=vg), under a timeout scaled for each. Its stderr goes to
# $MODE_DIR/stderr.log. A failing CMD fails the case with the tail of it.
R() {
  local secs=$1
  shift
  ((MODE == 0)) || secs=$((secs * 3))
  secs=$(awk -v s="$secs" -v f="$TIMEOUT_SCALE" 'BEGIN { printf "%d", s * f + 0.5 }')
  local rc=0
  echo "+ $*" >>"$MODE_DIR/stderr.log"
  if ((MODE == 0)); then
    { timeout -k 10 "$secs" "$@"; } 2>>"$MODE_DIR/stderr.log" || rc=$?
  else
    # --error-exitcode: a process with errors fails even where its parent
    # ignores its status; the logs are checked afterwards in any case.
    {
      timeout -k 10 "$secs" env LD_PRELOAD="$LIB" GOMALLOC_STATS=json \
        GOMALLOC_STATS_FILE="$LOGS/gm.%p.json" \
        valgrind --tool=memcheck --soname-synonyms=somalloc=nouserintercepts \
        --trace-children=yes --error-exitcode=99 --num-callers=40 \
        --suppressions="$HERE/valgrind.supp" --gen-suppressions=all \
        --log-file="$LOGS/vg.%p.log" "$@"
    } 2>>"$MODE_DIR/stderr.log" || rc=$?
  fi
  if ((rc != 0)); then
    echo "\`$*\` exited with status $rc ($([[ $MODE == 0 ]] && echo native || echo under memcheck))" >&2
    tail -n 15 "$MODE_DIR/stderr.log" | sed 's/^/  | /' >&2
    if ((MODE != 0)); then report_logs >&2 || true; fi
    exit 1
  fi
}

# Every memcheck log: zero errors and zero allocations by valgrind's
# malloc. Every process started by R itself (its parent has no log) left a
# GOMALLOC_STATS report with allocations in it; a child may have none (a
# shell that allocated nothing and left by _exit, as dash does).
report_logs() {
  local log pid ppid cmd allocs n=0 bad=0 total=0 quiet=0
  for log in "$LOGS"/vg.*.log; do
    [[ -e $log ]] || continue
    n=$((n + 1))
    pid=${log##*/vg.}
    pid=${pid%.log}
    cmd=$(sed -n 's/^==[0-9]*== Command: //p' "$log" | head -n 1)
    ppid=$(sed -n 's/^==[0-9]*== Parent PID: //p' "$log" | head -n 1)
    if ! grep -q 'ERROR SUMMARY: ' "$log"; then
      echo "memcheck log of pid $pid ($cmd) has no ERROR SUMMARY: the process did not finish"
      bad=1
      continue
    elif ! grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
      echo "memcheck found errors in pid $pid ($cmd):"
      sed -n '/^==[0-9]*== Command:/,$p' "$log" | grep -v -E '^==[0-9]+== ?$' | head -n 60 | sed 's/^/  | /'
      bad=1
    fi
    if ! grep -q 'total heap usage: 0 allocs' "$log"; then
      echo "valgrind's own malloc served pid $pid ($cmd), not the library:" \
        "$(grep -o 'total heap usage: .*' "$log")"
      bad=1
    fi
    allocs=$(sed -n 's/.*"counts": {[^}]*"allocs": \([0-9]*\).*/\1/p' "$LOGS/gm.$pid.json" 2>/dev/null || true)
    if [[ -n $allocs && $allocs != 0 ]]; then
      total=$((total + allocs))
    elif [[ -e $LOGS/vg.$ppid.log ]]; then
      quiet=$((quiet + 1))
    else
      echo "pid $pid ($cmd) left no GOMALLOC_STATS report with allocations: was the library loaded?"
      bad=1
    fi
  done
  if ((n == 0)); then
    echo "no memcheck logs at all"
    return 1
  fi
  local verdict="0 errors"
  ((bad == 0)) || verdict="NOT clean"
  echo "$n processes under memcheck ($quiet children without a report)," \
    "$total allocations by the library, $verdict"
  return "$bad"
}

# run_both BODY: BODY natively, then under memcheck, each in its own
# directory writing ./result; the results must be identical.
run_both() {
  local body=$1 m t0 t1 rc
  for m in 0 1; do
    MODE=$m
    MODE_DIR=$WORK/mode$m
    mkdir -p "$MODE_DIR"
    : >"$MODE_DIR/stderr.log"
    t0=$(date +%s.%N)
    # Not on the left of || (bash would ignore set -e inside the body).
    set +e
    (set -euo pipefail; cd "$MODE_DIR"; "$body")
    rc=$?
    set -e
    t1=$(date +%s.%N)
    ((rc == 0)) || fail "the $( ((m)) && echo memcheck || echo native) run failed (see above)"
    awk -v a="$t0" -v b="$t1" -v m="$m" \
      'BEGIN { printf "  %s run: %.1f s\n", m ? "memcheck" : "native", b - a }'
  done
  if ! cmp -s "$WORK/mode0/result" "$WORK/mode1/result"; then
    fail "results differ between the native and the memcheck run:
$(diff "$WORK/mode0/result" "$WORK/mode1/result" | head -n 20 | sed 's/^/  | /')"
  fi
  local summary
  summary=$(report_logs) || fail "$summary"
  echo "  $summary"
  echo "PASS $CASE"
}

# ---- python3 ----------------------------------------------------------------------
py_body() {
  # (Assignments, not env: env under valgrind would exec in place.)
  PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 R 120 "$PY" -c '
import decimal, gc, hashlib, json, pickle, re, threading, weakref, zlib
d = {str(i): [i] * (i % 7) for i in range(20000)}
s = json.dumps(d, sort_keys=True)
assert json.loads(s) == d
print("json", len(s), hashlib.sha256(s.encode()).hexdigest()[:16])
print("re", len(re.findall(r"\d+", s)), re.sub(r"(\d)(\d)", r"\2\1", s[:60]))
z = zlib.compress(s.encode() * 3, 6)
print("zlib", len(z), zlib.decompress(z) == s.encode() * 3)
decimal.getcontext().prec = 60
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
class Node:
    def __init__(self, n): self.n, self.kids = n, []
root = Node(0)
for i in range(1, 3000):
    root.kids.append(Node(i)); root.kids[-1].kids.append(root)
refs = [weakref.ref(k) for k in root.kids]
del root
print("gc", gc.collect() > 0, sum(r() is None for r in refs))
print("pickle", len(pickle.loads(pickle.dumps(d))))
out = [0] * 4
def work(t):
    acc = {}
    for i in range(3000):
        acc[i % 97] = acc.get(i % 97, b"") + bytes((t + i) % 251 for _ in range(i % 40))
        if len(acc[i % 97]) > 500: acc[i % 97] = b""
    out[t] = sum(map(len, acc.values()))
ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("threads", out)
' >result
}

PY=/usr/bin/python3 # not a pyenv shim or the like from PATH
case_python3() {
  [[ -x $PY ]] || skip "$PY not found (Debian package python3)"
  run_both py_body
}

# ---- sqlite3 -----------------------------------------------------------------------
sqlite_body() {
  R 120 sqlite3 -bail t.db <"$WORK/queries.sql" >out.txt
  { cat out.txt; echo "db sha256: $(sha256sum <t.db | cut -d' ' -f1)"; } >result
}

case_sqlite3() {
  need sqlite3 sqlite3
  cat >"$WORK/queries.sql" <<'EOF'
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO t SELECT i, (i * 7919) % 1009, printf('row-%08d-%x', i, (i * 2654435761) % 4294967296) FROM c;
CREATE INDEX tk ON t(k);
UPDATE t SET s = s || '-' || k WHERE k % 3 = 0;
DELETE FROM t WHERE k % 5 = 0;
SELECT count(*), sum(k), count(DISTINCT k), sum(length(s)) FROM t;
SELECT k, count(*), group_concat(id % 10, '') FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 3;
SELECT a.k, count(*) FROM t a JOIN t b ON a.k = b.k AND a.id < b.id WHERE a.k < 20 GROUP BY a.k ORDER BY a.k LIMIT 5;
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
PRAGMA integrity_check;
EOF
  run_both sqlite_body
}

# ---- git ---------------------------------------------------------------------------
git_commit() {
  local i=$1
  export GIT_AUTHOR_DATE="@$((1700000000 + i * 60)) +0000" GIT_COMMITTER_DATE="@$((1700000000 + i * 60)) +0000"
  echo "commit $i" >>CHANGES
  awk -v n="$i" 'BEGIN { for (k = 0; k < 100; k++) printf "int f%d_%d(int x) { return x * %d; }\n", k, n % 7, k + n }' \
    >"file$((i % 5)).c"
  R 30 git add -A
  R 30 git commit -q -m "commit $i"
}

git_body() {
  # The history is made natively in both modes (setup, not under test), the
  # last commit and everything after in this run's mode; values that only
  # read what is there are taken natively too.
  local i mode=$MODE
  MODE=0
  git init -q -b main repo
  cd repo
  for ((i = 1; i <= 30; i++)); do git_commit "$i"; done
  MODE=$mode
  git_commit 31
  R 120 git gc -q --aggressive --prune=now
  R 120 git fsck --full --strict >../fsck.out 2>&1
  R 120 git clone -q --no-local . ../clone
  local logp objects head clone_head
  logp=$(R 60 git log -p --stat | sha256sum | cut -d' ' -f1)
  objects=$(R 60 git rev-list --all --objects | wc -l)
  MODE=0
  head=$(R 30 git rev-parse HEAD 'HEAD^{tree}' | tr '\n' ' ')
  clone_head=$(R 30 git -C ../clone rev-parse HEAD)
  [[ ! -s ../fsck.out ]] || { echo "git fsck reported: $(head -n 3 ../fsck.out)" >&2; exit 1; }
  printf 'HEAD %s\nclone HEAD %s\nobjects %s\nlog -p %s\n' "$head" "$clone_head" "$objects" "$logp" >../result
}

case_git() {
  need git git
  run_both git_body
}

# ---- xz ----------------------------------------------------------------------------
xz_body() {
  R 120 xz -T2 -1 --block-size=262144 -c "$WORK/input" >input.xz
  R 120 xz -T2 -d -c input.xz >output
  cmp -s output "$WORK/input" || { echo "xz round trip changed the data" >&2; exit 1; }
  echo "compressed sha256 $(sha256sum <input.xz | cut -d' ' -f1) size $(stat -c %s input.xz)" >result
}

case_xz() {
  need xz xz-utils
  need awk mawk
  awk 'BEGIN { srand(42); for (i = 0; i < 30000; i++)
    printf "%08d key=%d value=%x\n", i, int(rand() * 1000), i * 2654435761 % 4294967296 }' >"$WORK/input"
  head -c 500000 /dev/urandom >>"$WORK/input"
  run_both xz_body
}

# ---- sort --------------------------------------------------------------------------
sort_body() {
  mkdir -p tmp
  R 120 sort --parallel=2 -S 1M -T tmp "$WORK/input" >sorted
  R 120 sort --parallel=2 -S 1M -T tmp -t ' ' -k3,3n -k1,1r "$WORK/input" >sorted_keys
  R 120 sort --parallel=2 -S 1M -T tmp -u -t ' ' -k2,2 "$WORK/input" >sorted_unique
  {
    echo "sorted $(wc -l <sorted) $(sha256sum <sorted | cut -d' ' -f1)"
    echo "by keys $(wc -l <sorted_keys) $(sha256sum <sorted_keys | cut -d' ' -f1)"
    echo "unique $(wc -l <sorted_unique) $(sha256sum <sorted_unique | cut -d' ' -f1)"
  } >result
}

case_sort() {
  need sort coreutils
  need awk mawk
  awk 'BEGIN { srand(7); for (i = 0; i < 60000; i++)
    printf "%c%c%06d %x %d\n", 97 + int(rand() * 26), 97 + int(rand() * 26),
      int(rand() * 1000000), int(rand() * 4096), int(rand() * 100000) - 50000 }' >"$WORK/input"
  run_both sort_body
}

# ---- gxx ---------------------------------------------------------------------------
gxx_body() {
  cp "$WORK/small.cpp" .
  R 300 g++ -std=c++17 -O1 -g -frandom-seed=gomalloc -ffile-prefix-map="$PWD"=. -c small.cpp -o small.o
  R 300 g++ small.o -o small
  R 60 ./small >small.out
  R 120 "$STL" >stl.out
  grep -qx 'done' stl.out || { echo "stl_workload did not finish: $(tail -n 2 stl.out)" >&2; exit 1; }
  { echo "object sha256 $(sha256sum <small.o | cut -d' ' -f1)"; cat small.out stl.out; } >result
}

case_gxx() {
  need g++ g++
  [[ -n $STL && -x $STL ]] || skip "no stl_workload program given (third argument)"
  # Small and without standard headers (parsing libstdc++'s would take most
  # of the time under memcheck), but with templates, virtuals, lambdas,
  # a fold expression and loops for the optimiser.
  cat >"$WORK/small.cpp" <<'EOF'
extern "C" int printf(const char *, ...);
extern "C" void *malloc(unsigned long);
extern "C" void free(void *);
template <class T> struct Vec {
  T *p = nullptr;
  unsigned long n = 0, cap = 0;
  void push(const T &v) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      T *q = static_cast<T *>(malloc(cap * sizeof(T)));
      for (unsigned long i = 0; i < n; i++) q[i] = p[i];
      free(p);
      p = q;
    }
    p[n++] = v;
  }
  ~Vec() { free(p); }
};
struct Shape { virtual ~Shape() {} virtual long area() const = 0; };
struct Rect : Shape {
  long w, h;
  Rect(long a, long b) : w(a), h(b) {}
  long area() const override { return w * h; }
};
struct Sq : Rect { explicit Sq(long a) : Rect(a, a) {} };
template <int N> struct Fib { static constexpr long v = Fib<N - 1>::v + Fib<N - 2>::v; };
template <> struct Fib<1> { static constexpr long v = 1; };
template <> struct Fib<0> { static constexpr long v = 0; };
template <class F, class... A> long apply_all(F f, A... a) { return (f(a) + ...); }
int main() {
  Vec<long> v;
  for (long i = 0; i < 1000; i++) v.push(i * i % 97);
  long s = 0;
  for (unsigned long i = 0; i < v.n; i++) s += v.p[i];
  Rect r(3, 4);
  Sq q(5);
  const Shape *sh[] = {&r, &q};
  long a = 0;
  for (auto *x : sh) a += x->area();
  auto sq = [](long x) { return x * x; };
  printf("%ld %ld %ld %ld\n", s, a, Fib<50>::v, apply_all(sq, 1, 2, 3, 4, 5, 6, 7));
  return 0;
}
EOF
  run_both gxx_body
}

"case_$CASE"
