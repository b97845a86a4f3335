#!/usr/bin/env bash
# real_programs.sh LIBPATH [CASE...]
#
# Runs real programs from Debian packages twice, once on glibc malloc and once
# with LD_PRELOAD=LIBPATH, and compares what they produce. Cases (default:
# all of them):
#   python3  CPython's own regression tests (a fast subset), PYTHONMALLOC=malloc
#   sqlite3  build, index, update and query a table of a million rows
#   git      a repository of a few hundred scripted commits, git gc, git fsck
#   xz       xz -T2 compress/decompress round trip of ~50 MB
#   sort     sort --parallel=2 -S 100M of a few million lines
#   gxx      g++ -O2 -g of tests/preload/stl_workload.cpp (object file must be
#            byte-identical), then link and run it
# Every case first checks that the preload really took: all bindings of
# malloc/free/calloc/realloc in the program's processes must resolve to
# LIBPATH (LD_DEBUG=bindings), else it FAILs.
#
# Each case prints one line PASS/FAIL/SKIP with the reason and timings; then
# `real_programs: K skipped`, and last `N passed, M failed` (the closing line
# of every test, see tests/common/check.h). Exit status:
# 1 if any case failed, else 0; but when REAL_PROGRAMS_SKIP_RC is set and
# every selected case was skipped, that value (CTest: SKIP_RETURN_CODE).
#
# Environment: REAL_PROGRAMS_TMPDIR (where the work dir goes, default
# $TMPDIR or /tmp), REAL_PROGRAMS_KEEP=1 keeps the work dir,
# REAL_PROGRAMS_TIMEOUT scales every per-command timeout (default 1).
# The case functions are called by name (case_$CASE, both FUNC, ...):
# shellcheck disable=SC2317
set -euo pipefail
shopt -s inherit_errexit

ALL_CASES=(python3 sqlite3 git xz sort gxx)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  echo "usage: $0 LIBPATH [CASE...]   (cases: ${ALL_CASES[*]})" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
[[ -f $1 ]] || { echo "real_programs: no such library: $1" >&2; exit 2; }
LIB=$(realpath "$1")
shift
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=("${ALL_CASES[@]}")
for c in "${CASES[@]}"; do
  [[ " ${ALL_CASES[*]} " == *" $c "* ]] || { echo "real_programs: unknown case '$c'" >&2; usage; }
done

# A clean, deterministic environment for both runs.
unset LD_PRELOAD LD_LIBRARY_PATH PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONMALLOC \
  MALLOC_CONF GIT_DIR GIT_WORK_TREE XZ_DEFAULTS XZ_OPT
export LC_ALL=C TZ=UTC
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME="gomalloc test" GIT_AUTHOR_EMAIL="test@gomalloc.invalid" \
  GIT_COMMITTER_NAME="gomalloc test" GIT_COMMITTER_EMAIL="test@gomalloc.invalid"
TIMEOUT_SCALE=${REAL_PROGRAMS_TIMEOUT:-1}

WORK=$(mktemp -d "${REAL_PROGRAMS_TMPDIR:-${TMPDIR:-/tmp}}/real_programs.XXXXXX")
cleanup() {
  if [[ ${REAL_PROGRAMS_KEEP:-0} != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "real_programs: library $LIB"
if command -v nm >/dev/null && nm -D --defined-only "$LIB" 2>/dev/null | grep ' gm_version$' >/dev/null; then
  echo "real_programs: (gomalloc: exports gm_version)"
fi

# ---- helpers used inside a case (each case runs in its own subshell) ---------------
# MODE is glibc or preload; MODE_DIR is that run's directory; CASE_DIR the case's.

note() { echo "  [$CASE${MODE:+/$MODE}] $*"; }
fail() { echo "$*" >"$CASE_DIR/reason"; exit 1; }
skip() { echo "$*" >"$CASE_DIR/reason"; exit 77; }
need() {
  local prog=$1 pkg=$2
  command -v "$prog" >/dev/null 2>&1 || skip "$prog not found (Debian package $pkg is not installed)"
}

signame() {
  local rc=$1
  if ((rc == 124)); then echo " (timed out)"
  elif ((rc > 128)); then echo " (signal $(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"
  fi
}

# P SECONDS CMD...: run CMD on glibc or with the library preloaded, depending
# on MODE, under a timeout. Its stderr is appended to $MODE_DIR/stderr.log. On
# failure it records what failed (with the tail of stderr) and returns the
# status, so `set -e` ends the run.
P() {
  local secs=$1
  shift
  secs=$(awk -v s="$secs" -v f="$TIMEOUT_SCALE" 'BEGIN { printf "%d", s * f + 0.5 }')
  local rc=0
  local -a envcmd
  if [[ $MODE == preload ]]; then envcmd=(env LD_PRELOAD="$LIB"); else envcmd=(env -u LD_PRELOAD); fi
  echo "+ $*" >>"$MODE_DIR/stderr.log"
  # The group catches bash's own "Segmentation fault ..." report too.
  { timeout -k 10 "$secs" "${envcmd[@]}" "$@"; } 2>>"$MODE_DIR/stderr.log" || rc=$?
  if ((rc != 0)); then
    {
      echo "\`$*\` exited with status $rc$(signame "$rc")"
      echo "  --- last lines of its stderr ---"
      tail -n 15 "$MODE_DIR/stderr.log" | sed 's/^/  | /'
    } >"$MODE_DIR/error"
  fi
  return "$rc"
}

# check_preload PATTERN CMD...: run CMD preloaded with LD_DEBUG=bindings; every
# binding of the malloc family must go to $LIB, and some object whose name
# matches PATTERN must bind malloc or free to it.
check_preload() {
  local pattern=$1
  shift
  local dbg="$CASE_DIR/ld_debug"
  mkdir -p "$dbg"
  local rc=0
  LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dbg/out" LD_PRELOAD="$LIB" timeout -k 5 120 "$@" \
    >"$dbg/stdout" 2>"$dbg/stderr" </dev/null || rc=$?
  if ((rc != 0)); then
    fail "preload check: \`$*\` exited with status $rc$(signame "$rc") with the library preloaded: $(tail -n 3 "$dbg/stderr" | tr '\n' ' ')"
  fi
  local lines
  lines=$(cat "$dbg"/out.* 2>/dev/null | grep -E "normal symbol \`(malloc|free|calloc|realloc)'" || true)
  [[ -n $lines ]] || fail "preload check: no malloc/free bindings seen for \`$*\` (LD_DEBUG output empty?)"
  # A binding to another object is accepted only where that object does not
  # define the symbol itself: a non-PIE program that takes the address of
  # free gets a canonical PLT entry (an undefined symbol with a value) which
  # ld.so binds the other objects to; the entry then jumps through the
  # program's own binding, which must go to $LIB like every other one.
  local line target sym path
  while IFS= read -r line; do
    [[ -n $line && $line != *"to $LIB [0]:"* ]] || continue
    target=$(sed -E 's/.* to (.*) \[0\]: normal symbol.*/\1/' <<<"$line")
    sym=$(sed -E "s/.*normal symbol \`([a-z]+)'.*/\1/" <<<"$line")
    path=$target
    [[ -f $path ]] || path=$(command -v "$target" 2>/dev/null || true)
    if [[ -n $path && -f $path ]] && command -v nm >/dev/null &&
      ! nm -D --defined-only "$path" 2>/dev/null | awk '{ print $NF }' | sed 's/@.*//' | grep -x "$sym" >/dev/null; then
      continue
    fi
    fail "preload did not take for \`$*\`: $(sed -E 's/^ *[0-9]+:[[:space:]]*//' <<<"$line")"
  done <<<"$lines"
  grep -E "binding file [^ ]*($pattern)[^ ]* \[0\] to " <<<"$lines" | grep -F "to $LIB [0]:" >/dev/null ||
    fail "preload check: no binding from an object matching '$pattern' to $LIB in \`$*\`"
  note "preload check ok: $(wc -l <<<"$lines") malloc-family bindings, all resolve to $(basename "$LIB")"
}

# children_cpu VAR: set VAR to the CPU seconds (user + system) of all
# waited-for children of this shell so far: the second line of `times`, e.g.
# "0m1.250s 0m0.310s". (Not in $(...): a subshell has children of its own.)
children_cpu() {
  times >"$CASE_DIR/.times"
  printf -v "$1" '%s' "$(awk 'NR == 2 {
    t = 0
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
    printf "%.2f", t
  }' "$CASE_DIR/.times")"
}

# run_mode MODE FUNC: run the case body FUNC for one mode in its own directory,
# timing it; its status goes to $MODE_DIR/rc. Never call this (or anything
# that runs a body) on the left of || or && or in an if: bash then ignores
# set -e in everything below, and a failing command would not end the run.
run_mode() {
  MODE=$1
  local body=$2
  MODE_DIR="$CASE_DIR/$MODE"
  mkdir -p "$MODE_DIR"
  : >"$MODE_DIR/stderr.log"
  local t0 t1 c0 c1 rc
  t0=$(date +%s.%N)
  children_cpu c0
  set +e
  (set -euo pipefail; cd "$MODE_DIR"; "$body")
  rc=$?
  set -e
  t1=$(date +%s.%N)
  children_cpu c1
  echo "$rc" >"$MODE_DIR/rc"
  awk -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" 'BEGIN { printf "%.1f s wall, %.1f s CPU", b - a, d - c }' \
    >"$MODE_DIR/seconds"
  note "run took $(cat "$MODE_DIR/seconds"), status $rc"
  MODE=
}

# both FUNC: run FUNC on glibc, then preloaded; each run writes what it observed
# to ./result, and the two results must be identical.
both() {
  local body=$1
  local rc_g rc_p
  run_mode glibc "$body"
  run_mode preload "$body"
  rc_g=$(cat "$CASE_DIR/glibc/rc")
  rc_p=$(cat "$CASE_DIR/preload/rc")
  echo "glibc $(cat "$CASE_DIR/glibc/seconds"); preloaded $(cat "$CASE_DIR/preload/seconds")" >"$CASE_DIR/times"
  if ((rc_p != 0)); then
    fail "with the library preloaded: $(cat "$CASE_DIR/preload/error" 2>/dev/null || echo "run failed with status $rc_p")"
  fi
  if ((rc_g != 0)); then
    fail "baseline run on glibc failed, cannot compare: $(cat "$CASE_DIR/glibc/error" 2>/dev/null || echo "status $rc_g")"
  fi
  if ! cmp -s "$CASE_DIR/glibc/result" "$CASE_DIR/preload/result"; then
    fail "results differ between glibc and the preloaded run:
$(diff "$CASE_DIR/glibc/result" "$CASE_DIR/preload/result" | head -n 20 | sed 's/^/  | /')"
  fi
}

# ---- case: python3 ------------------------------------------------------------------
PY=/usr/bin/python3
PY_TESTS=(
  test_threading test_threading_local test_thread test_queue
  test_dict test_dictviews test_ordered_dict test_list test_tuple test_set test_deque
  test_collections test_bisect test_heapq test_sort test_itertools test_functools
  test_unicode test_string test_bytes test_array test_memoryview test_struct test_long
  test_json test_re test_pickle test_marshal test_copy test_csv
  test_weakref test_gc test_decimal test_zlib test_hashlib test_random
  test_contextlib test_enum test_dataclasses
  test_asyncio.test_queues test_asyncio.test_locks
)

py_body() {
  # The regression test runner; -j2 runs each test file in a fresh worker
  # process (which inherits the environment, so the preload too).
  local rc=0
  P 400 env PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 HOME="$MODE_DIR" \
    "$PY" -m test -j2 --timeout 600 "${PY_TESTS[@]}" >test.out </dev/null || rc=$?
  cp test.out "$CASE_DIR/$MODE.test.out"
  if ((rc != 0)); then
    {
      echo "\`python3 -m test\` exited with status $rc$(signame "$rc")"
      grep -E '^(== Tests result|[0-9]+ tests? (failed|altered|crashed)|    test_|Tests result|Fatal Python error|Segmentation fault)' test.out |
        awk '!seen[$0]++' | head -n 15 | sed 's/^/  | /'
      echo "  --- last lines of its output ---"
      tail -n 10 test.out | sed 's/^/  | /'
    } >"$MODE_DIR/error"
    return 1
  fi
  grep -q '^Tests result: SUCCESS' test.out || { echo "no 'Tests result: SUCCESS' line" >"$MODE_DIR/error"; return 1; }
  # What passed: "All N tests OK." plus the skipped lists, if any.
  grep -E '^(All [0-9]+ tests OK\.|[0-9]+ tests? OK\.|[0-9]+ tests? skipped|Tests result)' test.out >result
  note "$(grep -E '^All [0-9]+ tests OK|^[0-9]+ tests? OK' test.out)"
}

case_python3() {
  [[ -x $PY ]] || skip "$PY not found (Debian package python3)"
  "$PY" -c 'import test.libregrtest' 2>/dev/null ||
    skip "CPython's test suite is not installed (Debian package libpython3.11-testsuite for python3.11)"
  local t testdir
  testdir=$("$PY" -c 'import os, test; print(os.path.dirname(test.__file__))')
  for t in "${PY_TESTS[@]}"; do
    [[ -e $testdir/${t//.//}.py || -d $testdir/${t//.//} ]] || skip "test $t not in this Python's test suite ($testdir)"
  done
  check_preload 'python3' "$PY" -c 'pass'
  # And from inside the interpreter: the library is mapped, and if it is
  # gomalloc (exports gm_usable_size), it knows a block that malloc returned.
  local where
  where=$(LD_PRELOAD="$LIB" PYTHONMALLOC=malloc REAL_PROGRAMS_LIB="$LIB" "$PY" - <<'EOF'
import ctypes, os
lib = os.environ["REAL_PROGRAMS_LIB"]
with open("/proc/self/maps") as maps:
    mapped = any(line.split()[-1] == lib for line in maps if len(line.split()) >= 6)
if not mapped:
    print("not mapped")
    raise SystemExit(0)
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
mine = ctypes.CDLL(lib)
if hasattr(mine, "gm_usable_size"):
    mine.gm_usable_size.restype = ctypes.c_size_t
    mine.gm_usable_size.argtypes = [ctypes.c_void_p]
    p = libc.malloc(100)
    n = mine.gm_usable_size(p)
    libc.free(p)
    print("mapped, gm_usable_size(malloc(100)) = %d" % n if n >= 100 else "gm_usable_size(malloc(100)) = %d" % n)
else:
    print("mapped")
EOF
  ) || fail "preload check: python3 with the library preloaded failed (status $?)"
  [[ $where == mapped* ]] || fail "preload did not take in python3: $where"
  note "python3: library $where"
  both py_body
}

# ---- case: sqlite3 ------------------------------------------------------------------
sqlite_body() {
  P 300 sqlite3 -bail t.db <"$CASE_DIR/queries.sql" >out.txt
  P 120 sqlite3 -bail t.db 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA integrity_check;' >check.txt
  grep -qx 'ok' check.txt || { echo "integrity_check: $(head -n 3 check.txt)" >"$MODE_DIR/error"; return 1; }
  { cat out.txt; echo "integrity: $(tail -n 1 check.txt)"; echo "db sha256: $(sha256sum <t.db | cut -d' ' -f1)"; } >result
  rm -f t.db t.db-wal t.db-shm
}

case_sqlite3() {
  need sqlite3 sqlite3
  cat >"$CASE_DIR/queries.sql" <<'EOF'
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-65536;
CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL, d BLOB);
CREATE TABLE g(k INTEGER PRIMARY KEY, name TEXT);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000000)
INSERT INTO t SELECT i, (i*7919) % 100003,
  printf('row-%d-%x-%s', i, (i*2654435761) % 4294967296,
         substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26, 1 + (i*13) % 26)),
  (i % 997) * 1.5 / 7.0, zeroblob(i % 64) FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < 9999)
INSERT INTO g SELECT i, 'group-' || i FROM n;
COMMIT;
CREATE INDEX t_a ON t(a);
CREATE INDEX t_b ON t(b);
CREATE INDEX t_ac ON t(a % 10000, c);
ANALYZE;
.headers off
.mode list
SELECT 'count', count(*), sum(a), total(c), sum(length(b)), sum(length(d)) FROM t;
SELECT 'distinct', count(DISTINCT a), count(DISTINCT b), count(DISTINCT substr(b, -3)) FROM t;
SELECT 'top', a % 1000, count(*), sum(id) FROM t GROUP BY a % 1000 ORDER BY sum(id) DESC, 2 LIMIT 5;
SELECT 'range', count(*), min(id), max(id) FROM t WHERE a BETWEEN 5000 AND 5100;
SELECT 'like', count(*) FROM t WHERE b LIKE 'row-99%';
SELECT 'bprefix', id, b FROM t WHERE b >= 'row-77777' ORDER BY b LIMIT 3;
SELECT 'join', g.name, count(*), round(avg(t.c), 6) FROM t JOIN g ON g.k = t.a % 10000
  GROUP BY g.k ORDER BY g.k LIMIT 5 OFFSET 4321;
SELECT 'window', id, a, sum(a) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)
  FROM t WHERE id % 100000 = 0;
SELECT 'sorted', group_concat(b, ',') FROM (SELECT b FROM t ORDER BY c DESC, b LIMIT 7);
SELECT 'concat', length(group_concat(b)) FROM t;
SELECT 'json', json_group_array(json_object('id', id, 'a', a)) FROM t WHERE id <= 5;
UPDATE t SET b = upper(b) WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT 'after', count(*), sum(length(b)), count(DISTINCT b) FROM t;
VACUUM;
SELECT 'final', count(*), sum(a) FROM t INDEXED BY t_a WHERE a > 50000;
EOF
  check_preload 'sqlite3' sqlite3 :memory: 'SELECT 1;'
  both sqlite_body
}

# ---- case: git -------------------------------------------------------------------------
GIT_COMMITS=300

git_body() {
  export HOME="$MODE_DIR"
  P 30 git init -q -b main repo
  cd repo
  P 10 git config gc.auto 0
  P 10 git config pack.threads 2
  mkdir -p src docs data
  local i
  for ((i = 1; i <= GIT_COMMITS; i++)); do
    # Fixed dates so that every object id is the same in both runs.
    export GIT_AUTHOR_DATE="@$((1700000000 + i * 60)) +0000" GIT_COMMITTER_DATE="@$((1700000000 + i * 60)) +0000"
    # A growing log (good deltas), rewritten sources, a new file now and then.
    echo "commit $i: $(printf '%08x' $((i * 2654435761 % 4294967296)))" >>docs/CHANGES
    awk -v n="$i" 'BEGIN { for (k = 0; k < 200; k++) printf "int f%d_%d(int x) { return x * %d + %d; }\n", k, n % 17, k, (n * k) % 101 }' \
      >"src/file$((i % 23)).c"
    if ((i % 10 == 0)); then seq "$i" $((i * 50)) >"data/table$i.txt"; fi
    if ((i % 37 == 0)); then
      P 30 git rm -q -r --cached data >/dev/null
      rm -rf data
      mkdir -p data
    fi
    P 30 git add -A
    P 30 git commit -q -m "commit $i" -m "generated by real_programs.sh"
    if ((i % 50 == 0)); then P 30 git tag -a "v$i" -m "tag $i"; fi
  done
  P 60 git checkout -q -b side HEAD~40
  echo side >side.txt
  P 30 git add side.txt
  P 30 git commit -q -m side
  P 30 git checkout -q main
  P 60 git merge -q --no-edit side
  P 300 git gc -q --aggressive --prune=now
  P 300 git fsck --full --strict >../fsck.out 2>&1
  P 300 git clone -q --no-local . ../clone
  P 120 git -C ../clone fsck --full >>../fsck.out 2>&1
  # Every value is taken in an assignment of its own, so a failing command
  # fails the run (set -e does not see failures inside echo "$(...)").
  local log_lines all_commits head tree tags objects clone_head clone_tree counts blame diffstat
  log_lines=$(P 60 git log --oneline | wc -l)
  all_commits=$(P 60 git rev-list --all | wc -l)
  head=$(P 10 git rev-parse HEAD)
  tree=$(P 10 git rev-parse 'HEAD^{tree}')
  tags=$(P 10 git tag | tr '\n' ' ')
  objects=$(P 60 git rev-list --all --objects | wc -l)
  clone_head=$(P 10 git -C ../clone rev-parse HEAD)
  clone_tree=$(P 10 git -C ../clone rev-parse 'HEAD^{tree}')
  counts=$(P 60 git count-objects -v | grep -E '^(count|packs|garbage):' | tr '\n' ' ')
  blame=$(P 60 git blame --line-porcelain docs/CHANGES | sha256sum | cut -d' ' -f1)
  diffstat=$(P 60 git diff --stat v50 HEAD | tail -n 1)
  cat >../result <<EOF
log lines: $log_lines
all commits: $all_commits
HEAD: $head
tree: $tree
tags: $tags
objects: $objects
clone HEAD: $clone_head
clone tree: $clone_tree
fsck output: $(wc -l <../fsck.out) lines
$counts
blame: $blame
diff: $diffstat
EOF
  [[ ! -s ../fsck.out ]] || { echo "git fsck reported: $(head -n 3 ../fsck.out)" >"$MODE_DIR/error"; return 1; }
}

case_git() {
  need git git
  check_preload 'git' git --version
  both git_body
}

# ---- case: xz ----------------------------------------------------------------------------
xz_body() {
  P 300 xz -T2 -6 -c "$CASE_DIR/input" >input.xz
  P 300 xz -T2 -d -c input.xz >output
  P 60 xz -t input.xz
  local want got
  want=$(sha256sum <"$CASE_DIR/input" | cut -d' ' -f1)
  got=$(sha256sum <output | cut -d' ' -f1)
  [[ $want == "$got" ]] || { echo "round trip changed the data: sha256 $got, want $want" >"$MODE_DIR/error"; return 1; }
  {
    echo "round trip sha256: $got"
    echo "compressed sha256: $(sha256sum <input.xz | cut -d' ' -f1) size $(stat -c %s input.xz)"
    P 30 xz --robot -l input.xz | grep -E '^(totals|stream)'
  } >result
  rm -f output
}

case_xz() {
  need xz xz-utils
  need awk mawk
  xz --help 2>/dev/null | grep -- '--threads' >/dev/null || skip "this xz has no --threads"
  # ~50 MB: 47 MB of structured text (compresses well, long matches) and
  # 5 MB of random bytes (stored nearly as is). Made on glibc, used by both runs.
  {
    awk 'BEGIN { srand(42); for (i = 0; i < 520000; i++)
      printf "%08d %s key=%d value=%x\n", i, substr("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor", 1 + (i * 7) % 40),
        int(rand() * 1000), i * 2654435761 % 4294967296 }'
    head -c 5000000 /dev/urandom
  } >"$CASE_DIR/input"
  note "input: $(stat -c %s "$CASE_DIR/input") bytes"
  check_preload 'xz|liblzma' xz -T2 -c /dev/null
  both xz_body
}

# ---- case: sort ---------------------------------------------------------------------------
sort_body() {
  mkdir -p tmp
  P 300 sort --parallel=2 -S 100M -T tmp "$CASE_DIR/input" >sorted
  P 300 sort --parallel=2 -S 100M -T tmp -t ' ' -k3,3n -k1,1r "$CASE_DIR/input" >sorted_keys
  P 300 sort --parallel=2 -S 50M -T tmp -u -t ' ' -k2,2 "$CASE_DIR/input" >sorted_unique
  P 120 sort -c sorted
  {
    echo "sorted: $(wc -l <sorted) lines sha256 $(sha256sum <sorted | cut -d' ' -f1)"
    echo "by keys: $(wc -l <sorted_keys) lines sha256 $(sha256sum <sorted_keys | cut -d' ' -f1)"
    echo "unique: $(wc -l <sorted_unique) lines sha256 $(sha256sum <sorted_unique | cut -d' ' -f1)"
  } >result
  rm -f sorted sorted_keys sorted_unique
}

case_sort() {
  need sort coreutils
  need awk mawk
  sort --help 2>/dev/null | grep -- '--parallel' >/dev/null || skip "this sort has no --parallel"
  awk 'BEGIN { srand(7); for (i = 0; i < 3000000; i++)
    printf "%c%c%c%06d %x %d %s\n", 97 + int(rand() * 26), 97 + int(rand() * 26), 97 + int(rand() * 26),
      int(rand() * 1000000), int(rand() * 65536), int(rand() * 100000) - 50000, substr("abcdefghijklmnop", 1 + i % 16) }' \
    >"$CASE_DIR/input"
  note "input: $(wc -l <"$CASE_DIR/input") lines, $(stat -c %s "$CASE_DIR/input") bytes"
  check_preload 'sort' sort --parallel=2 /dev/null
  both sort_body
}

# ---- case: gxx ------------------------------------------------------------------------------
# Both runs compile in the same directory with the same command line, so the
# object file (debug info included) and the linked program must be identical.
gxx_body() {
  cd "$CASE_DIR/build"
  rm -f stl_workload.o stl_workload
  P 300 g++ -std=c++17 -O2 -g -Wall -Wextra -frandom-seed=gomalloc -pthread -c stl_workload.cpp -o stl_workload.o
  P 300 g++ -pthread stl_workload.o -o stl_workload
  P 300 ./stl_workload >"$MODE_DIR/run.out"
  cp stl_workload.o stl_workload "$MODE_DIR/"
  cd "$MODE_DIR"
  grep -qx 'done' run.out || { echo "stl_workload did not finish: $(tail -n 2 run.out)" >error; return 1; }
  {
    echo "object sha256: $(sha256sum <stl_workload.o | cut -d' ' -f1) size $(stat -c %s stl_workload.o)"
    echo "program sha256: $(sha256sum <stl_workload | cut -d' ' -f1)"
    cat run.out
  } >result
}

case_gxx() {
  need g++ g++
  [[ -f $HERE/stl_workload.cpp ]] || skip "$HERE/stl_workload.cpp is missing"
  mkdir -p "$CASE_DIR/build"
  cp "$HERE/stl_workload.cpp" "$CASE_DIR/build/"
  echo 'int main() { return 0; }' >"$CASE_DIR/build/probe.cpp"
  check_preload 'cc1plus' g++ -O2 -c "$CASE_DIR/build/probe.cpp" -o "$CASE_DIR/build/probe.o"
  both gxx_body
}

# ---- main -----------------------------------------------------------------------------------
passed=0 failed=0 skipped=0
for CASE in "${CASES[@]}"; do
  CASE_DIR="$WORK/$CASE"
  mkdir -p "$CASE_DIR"
  MODE=
  echo "--- $CASE"
  set +e # see run_mode
  (set -euo pipefail; "case_$CASE")
  rc=$?
  set -e
  reason=$(cat "$CASE_DIR/reason" 2>/dev/null || true)
  times=$(cat "$CASE_DIR/times" 2>/dev/null || true)
  if ((rc == 0)); then
    passed=$((passed + 1))
    echo "PASS $CASE${times:+ ($times)}"
  elif ((rc == 77)); then
    skipped=$((skipped + 1))
    echo "SKIP $CASE: ${reason:-no reason given}"
  else
    failed=$((failed + 1))
    echo "FAIL $CASE: ${reason:-case script failed with status $rc}${times:+ ($times)}"
  fi
done

if [[ ${REAL_PROGRAMS_KEEP:-0} == 1 ]]; then echo "(work dir kept: $WORK)"; fi
echo "real_programs: $skipped skipped"
echo "$passed passed, $failed failed"
if ((failed > 0)); then exit 1; fi
if ((passed == 0 && skipped > 0)) && [[ -n ${REAL_PROGRAMS_SKIP_RC:-} ]]; then exit "$REAL_PROGRAMS_SKIP_RC"; fi
exit 0
