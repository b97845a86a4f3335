#!/usr/bin/env bash
# check_heapmap.sh MODE PROG OUTDIR [--many]
#
# Runs PROG (tests/heapmap/heapmap_prog.c), which writes a heap map and
# prints "spans=N chunks=M" as counted by the heap census, then checks the
# page:
#   MODE=structure  the SVG has one block per span (or one cell per chunk
#                   with --many) and the page's own data agrees; no browser.
#   MODE=chromium   headless Chromium opens FILE#selftest: the page's
#                   self-test counts the drawn spans, hovers over one and
#                   reads the tooltip; its result must match the census.
#                   Then a screenshot is saved as OUTDIR/heapmap[-chunks].png.
#                   Exit 77 (CTest SKIP) when Chromium is not installed.
set -u
mode=$1 prog=$2 out=$3 many=${4:-}
name=heapmap${many:+-chunks}
html=$out/$name.html
fail() { echo "FAIL: $*" >&2; exit 1; }

browser=
if [ "$mode" = chromium ]; then
  for b in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$b" >/dev/null 2>&1; then browser=$(command -v "$b"); break; fi
  done
  if [ -z "$browser" ]; then
    echo "SKIP: no chromium found (Debian: apt-get install -y chromium)"
    exit 77
  fi
fi

mkdir -p "$out"
counts=$("$prog" $many "$html") || fail "$prog exited with $?"
spans=$(sed -n 's/^spans=\([0-9]*\) chunks=\([0-9]*\)$/\1/p' <<<"$counts")
chunks=$(sed -n 's/^spans=\([0-9]*\) chunks=\([0-9]*\)$/\2/p' <<<"$counts")
[ -n "$spans" ] && [ -n "$chunks" ] || fail "unexpected output from $prog: $counts"
echo "census: $spans spans, $chunks chunks; map: $html ($(wc -c <"$html") bytes)"
grep -q 'src=' "$html" && fail "the page loads something"
grep -qi 'https\?:' <(grep -v 'xmlns=' "$html") && fail "the page refers to the network"

if [ "$mode" = structure ]; then
  if [ -z "$many" ]; then
    drawn=$(grep -c '<rect class="s" data-i=' "$html")
    [ "$drawn" = "$spans" ] || fail "$drawn spans drawn, census has $spans"
    grep -q "var META={mode:\"spans\",spans:$spans,chunks:$chunks," "$html" ||
      fail "META disagrees: $(grep -o 'var META={[^}]*}' "$html")"
  else
    drawn=$(grep -c '<rect class="k" data-k=' "$html")
    [ "$drawn" = "$chunks" ] || fail "$drawn chunk cells drawn, census has $chunks chunks"
    grep -q "var META={mode:\"chunks\",spans:$spans,chunks:$chunks," "$html" ||
      fail "META disagrees: $(grep -o 'var META={[^}]*}' "$html")"
  fi
  echo "PASS: $drawn blocks drawn"
  exit 0
fi

# A fresh profile each time; nothing of the user's is touched.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
export HOME=${HOME:-$profile}
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile")
dom=$(timeout 120 "$browser" "${flags[@]}" --dump-dom "file://$html#selftest" 2>"$out/$name.chromium.log") ||
  fail "chromium --dump-dom failed ($?); see $out/$name.chromium.log"
result=$(grep -o 'SELFTEST [^<]*' <<<"$dom" | head -1)
echo "page: $result"
grep -A12 '<pre id="selftest-result">' <<<"$dom" | sed 1d | sed '/<\/pre>/,$d'
[ -n "$result" ] || fail "no self-test result in the page"
if [ -z "$many" ]; then
  want="SELFTEST mode=spans spans=$spans distinct=$spans chunks=$chunks expected_spans=$spans expected_chunks=$chunks tooltip=ok"
else
  want="SELFTEST mode=chunks spans=$spans distinct=0 chunks=$chunks expected_spans=$spans expected_chunks=$chunks tooltip=ok"
fi
[ "$result" = "$want" ] || fail "expected: $want"

png=$out/$name.png
rm -f "$png"
timeout 120 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1400,900 --screenshot="$png" \
  "file://$html#selftest" 2>>"$out/$name.chromium.log" >/dev/null ||
  fail "chromium --screenshot failed ($?)"
[ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "no PNG at $png"
echo "PASS: screenshot $png ($(wc -c <"$png") bytes)"
