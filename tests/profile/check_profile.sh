#!/usr/bin/env bash
# check_profile.sh MODE CLI OUTDIR [PROG PROG_CXX]
#
# `gomalloc run --profile DIR` and `gomalloc report DIR` end to end
# (docs/profile-format.md):
#   MODE=prog      profile_prog and profile_prog_cxx, whose requests are known:
#                  sizes.tsv holds exactly their counts (every wrapped call,
#                  threads that exit, operator new in every form; nothing from
#                  a forked child), meta and timeline are complete, the
#                  timeline shows malloc_trim's release, the heap dump is
#                  there, the exit status passes through; then the report
#                  page's structure against figures worked out here with awk.
#   MODE=real      sort and python3 profiled: same output as unprofiled, and
#                  sane files; --all-processes puts children in DIR/pid-N.
#   MODE=chromium  headless Chromium runs the report's #selftest (drawn
#                  points, releases, bars, class rows, waste recomputed in
#                  the page, the heap map's spans and tooltip) and takes a
#                  screenshot. Exit 77 (CTest SKIP) without Chromium.
set -u
mode=$1 cli=$2 out=$3 prog=${4:-} prog_cxx=${5:-}
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$out"

# Column NAME of a TSV file with a header: its values, one a line.
column() { awk -F'\t' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
  c { print $c }' "$1"; }

# The checks every profile must pass.
check_files() { # dir
  local d=$1
  for f in meta sizes.tsv timeline.tsv heap.dump; do [ -s "$d/$f" ] || fail "$d/$f missing or empty"; done
  grep -qx $'format\tgomalloc-profile 1' "$d/meta" || fail "$d/meta: no format line"
  [ "$(grep -c $'^class\t' "$d/meta")" = 67 ] || fail "$d/meta: not 67 class lines"
  grep -q $'^end_ms\t' "$d/meta" || fail "$d/meta: no end (exit handler did not run)"
  local req sum
  req=$(sed -n 's/^requests\t//p' "$d/meta")
  sum=$(column "$d/sizes.tsv" count | awk '{ s += $1 } END { print s + 0 }')
  [ "$req" = "$sum" ] && [ "$sum" -gt 0 ] || fail "$d: meta requests $req, sizes.tsv sums to $sum"
  # Every row: lo <= hi, bytes within [count*lo, count*hi], sorted, exact up to 32 KiB.
  awk -F'\t' 'NR > 1 { if ($1 > $2 || $4 < $3 * $1 || $4 > $3 * $2 || $1 <= prev ||
    ($1 <= 32768 && $1 != $2) || $3 <= 0) { print "bad row " NR ": " $0; exit 1 } prev = $2 }' \
    "$d/sizes.tsv" || fail "$d/sizes.tsv malformed"
  local cols rows
  cols=$(head -1 "$d/timeline.tsv" | awk -F'\t' '{ print NF }')
  [ "$cols" = 85 ] || fail "$d/timeline.tsv: $cols columns, want 18 + 67"
  for c in t_ms rss in_use at_class retained released scavenged threads cached_spans spans_1 spans_67; do
    head -1 "$d/timeline.tsv" | tr '\t' '\n' | grep -qx "$c" || fail "timeline: no column $c"
  done
  rows=$(awk 'END { print NR - 1 }' "$d/timeline.tsv")
  [ "$rows" -ge 1 ] && [ "$rows" = "$(sed -n 's/^samples\t//p' "$d/meta")" ] ||
    fail "$d: $rows timeline rows, meta says $(sed -n 's/^samples\t//p' "$d/meta")"
  awk -F'\t' -v cols="$cols" 'NR > 1 { if (NF != cols || $1 < prev || $2 <= 0 || $4 < $3 ||
    $6 > $9) { print "bad row " NR ": " $0; exit 1 } prev = $1 }' "$d/timeline.tsv" ||
    fail "$d/timeline.tsv malformed (columns, time order, rss > 0, at_class >= in_use, retained <= mapped)"
  head -1 "$d/heap.dump" | grep -qx 'gomalloc heap dump 1' || fail "$d/heap.dump: not a heap dump"
  tail -1 "$d/heap.dump" | grep -q '^end ' || fail "$d/heap.dump: cut short"
}

# The report page against what awk works out from the files.
check_page() { # dir page
  local d=$1 page=$2
  grep -q 'src=' "$page" && fail "the page loads something"
  grep -qi 'https\?:' <(grep -v 'xmlns=' "$page") && fail "the page refers to the network"
  local want got
  want=$(awk -F'\t' '
    FNR == 1 { file++ }
    file == 1 && $1 == "class" { size[$2] = $3; n = $2 }
    file == 1 && $1 == "align8" { a8 = $2 }
    file == 2 && FNR > 1 { bars++
      if ($1 == $2 && $1 <= size[n]) {
        for (c = 1; c <= n; c++) if (size[c] >= $1 && ($1 <= 16 || a8 || size[c] % 16 == 0)) break
        used[c] = 1; waste += $3 * (size[c] - $1); cb += $3 * size[c] } }
    file == 3 && FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "scavenged") sc = i }
    file == 3 && FNR > 1 { rows++; if ($sc > 0) rel++ }
    file == 4 && /^heap / { split($0, h, " "); spans = h[3] }
    END { for (c in used) classes++
      printf "rows:%d releases:%d bars:%d classes:%d waste:%d classBytes:%d spans:%d\n",
        rows, rel, bars, classes, waste, cb, spans }' \
    "$d/meta" "$d/sizes.tsv" "$d/timeline.tsv" "$d/heap.dump")
  got=$(grep -o 'var RP={[^}]*}' "$page" | sed 's/^var RP={//; s/}$//' | tr ',' '\n' |
    grep -E '^(rows|releases|bars|classes|waste|classBytes|spans):' | tr '\n' ' ' | sed 's/ $//')
  [ "$got" = "$(tr -d '\n' <<<"$want")" ] || fail "page data: $got; from the files: $want"
  local bars classes rel
  bars=$(grep -c '<rect class="bar"' "$page")
  classes=$(grep -c '<tr class="cls"' "$page")
  rel=$(grep -c '<path class="rel" d="[^"]*"><title>' "$page")
  grep -q "bars:$bars,classes:$classes," "$page" || fail "$bars bars and $classes class rows drawn"
  grep -q "releases:$rel," "$page" || fail "$rel release markers drawn"
  [ "$(grep -c '<polyline class="series"' "$page")" = 4 ] || fail "not 4 timeline series"
  grep -q '<iframe id="heapmap" title="heap map" srcdoc="&lt;!DOCTYPE html&gt;' "$page" ||
    fail "no heap map"
  grep -q "id=\"total-waste\" data-w=\"$(sed -n 's/.*waste:\([0-9]*\).*/\1/p' <<<"$want")\"" "$page" ||
    fail "the table's total waste differs"
  echo "page: $got"
}

run_prog() { # expected-rc dir prog...
  local rc=$1 d=$2; shift 2
  rm -rf "$d"
  "$cli" run --profile "$d" --profile-interval 5 -- "$@" >"$d.out" 2>"$d.err"
  local got=$?
  [ "$got" = "$rc" ] || fail "$* exited $got, want $rc: $(cat "$d.err")"
}

# Every expected "lo hi count" row of $2 is in $1/sizes.tsv exactly (count 0: absent).
check_counts() { # dir expect
  while read -r lo hi n; do
    got=$(awk -F'\t' -v lo="$lo" -v hi="$hi" '$1 == lo && $2 == hi { print $3 }' "$1/sizes.tsv")
    [ "${got:-0}" = "$n" ] || fail "requests of $lo..$hi: ${got:-0}, want $n"
  done <"$2"
  echo "$(wc -l <"$2") sizes counted exactly"
}

case $mode in
prog)
  d=$out/prog
  run_prog 7 "$d" "$prog" "$out/prog.expect"
  grep -qx 'profile_prog done' "$d.out" || fail "profile_prog output: $(cat "$d.out")"
  check_files "$d"
  check_counts "$d" "$out/prog.expect"
  ls -d "$d"/pid-* >/dev/null 2>&1 && fail "a child wrote a profile without --all-processes"
  [ "$(column "$d/timeline.tsv" scavenged | awk '$1 > 0' | wc -l)" -ge 1 ] ||
    fail "malloc_trim's release is not in the timeline"
  [ "$(column "$d/timeline.tsv" threads | sort -n | tail -1)" -ge 1 ] ||
    fail "the timeline never saw a thread cache"
  run_prog 0 "$out/cxx" "$prog_cxx" "$out/cxx.expect"
  grep -qx 'bad_alloc thrown' "$out/cxx.out" || fail "operator new through the profiler: $(cat "$out/cxx.out")"
  check_counts "$out/cxx" "$out/cxx.expect"
  # The report.
  "$cli" report "$d" || fail "gomalloc report failed"
  check_page "$d" "$d/report.html"
  "$cli" report "$d" -o "$out/prog.html" && [ -s "$out/prog.html" ] || fail "report -o"
  # Usage errors.
  "$cli" report 2>/dev/null; [ $? = 2 ] || fail "report without DIR: not 2"
  "$cli" report "$out/nonexistent" 2>"$out/err"; [ $? = 1 ] && grep -q meta "$out/err" ||
    fail "report of a non-profile: not 1 with a message"
  "$cli" run --profile-interval 5 -- true 2>/dev/null; [ $? = 2 ] || fail "--profile-interval alone: not 2"
  "$cli" run --profile /proc/none -- true 2>"$out/err"; [ $? = 1 ] && grep -q 'cannot create' "$out/err" ||
    fail "--profile into an impossible directory: not 1 with a message"
  echo PASS
  ;;
real)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  seq 1 200000 | awk '{ print ($1 * 7919) % 100003, $1 }' >"$tmp/in"
  want=$(LC_ALL=C sort -n "$tmp/in" | md5sum)
  rm -rf "$out/sort"
  got=$(LC_ALL=C "$cli" run --profile "$out/sort" -- sort -n "$tmp/in" | md5sum)
  [ "$got" = "$want" ] || fail "sort's output differs when profiled"
  check_files "$out/sort"
  "$cli" report "$out/sort" && check_page "$out/sort" "$out/sort/report.html"
  if command -v python3 >/dev/null; then
    script='import json,collections; d=collections.Counter(str(i%977)*(i%50) for i in range(200000)); print(len(json.dumps(d)), sum(d.values()))'
    want=$(python3 -c "$script")
    rm -rf "$out/python3"
    got=$("$cli" run --profile "$out/python3" -- python3 -c "$script")
    [ "$got" = "$want" ] || fail "python3's output differs when profiled: $got vs $want"
    check_files "$out/python3"
    [ "$(awk 'END { print NR }' "$out/python3/sizes.tsv")" -gt 20 ] || fail "python3: few sizes"
    "$cli" report "$out/python3" && check_page "$out/python3" "$out/python3/report.html"
  else
    echo "python3 not installed: only sort"
  fi
  # --all-processes: the shell into DIR, the sort it forks into DIR/pid-N.
  rm -rf "$out/all"
  "$cli" run --all-processes --profile "$out/all" -- bash -c "sort '$tmp/in' >/dev/null; true" ||
    fail "--all-processes run failed"
  check_files "$out/all"
  n=$(ls -d "$out/all"/pid-* 2>/dev/null | wc -l)
  [ "$n" -ge 1 ] || fail "--all-processes: no DIR/pid-N for the child"
  for c in "$out/all"/pid-*; do check_files "$c"; done
  grep -q "$(basename "$(ls -d "$out/all"/pid-* | head -1)")" <("$cli" report "$out/all" -o /dev/stdout) ||
    fail "the report does not name the children's profiles"
  echo PASS
  ;;
chromium)
  browser=
  for b in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
  done
  [ -n "$browser" ] || { echo "SKIP: no chromium found (Debian: apt-get install -y chromium)"; exit 77; }
  d=$out/chromium
  run_prog 7 "$d" "$prog" "$out/chromium.expect"
  "$cli" report "$d" || fail "gomalloc report failed"
  page=$d/report.html
  check_page "$d" "$page"
  rp=$(grep -o 'var RP={[^}]*}' "$page")
  num() { sed -n "s/.*[{,]$1:\([0-9]*\).*/\1/p" <<<"$rp"; }
  want="SELFTEST timeline=$(num points)/$(num points) releases=$(num releases)/$(num releases)"
  want+=" bars=$(num bars)/$(num bars) classes=$(num classes)/$(num classes) waste=ok"
  want+=" heapmap=ok(spans=$(num spans)/$(num spans))"
  profile=$(mktemp -d)
  trap 'rm -rf "$profile"' EXIT
  export HOME=${HOME:-$profile}
  flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile")
  dom=$(timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$page#selftest" 2>"$out/chromium.log") ||
    fail "chromium --dump-dom failed ($?); see $out/chromium.log"
  result=$(grep -o 'SELFTEST [^<]*' <<<"$dom" | head -1)
  echo "page: $result"
  [ "$result" = "$want" ] || fail "expected: $want"
  png=$out/report.png
  rm -f "$png"
  timeout 120 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1200,2000 --screenshot="$png" \
    "file://$page" 2>>"$out/chromium.log" >/dev/null || fail "chromium --screenshot failed ($?)"
  [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "no PNG at $png"
  echo "PASS: screenshot $png ($(wc -c <"$png") bytes)"
  ;;
*)
  fail "unknown mode $mode"
  ;;
esac
