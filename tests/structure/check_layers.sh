#!/usr/bin/env bash
# check_layers.sh SRC_DIR
#
# The call graph runs one way: API -> mcache -> mcentral -> mheap ->
# pagealloc -> os, with the background thread, statistics and start-up on
# top calling down. Checked through #include: a file may include its own
# layer's headers and those of layers below it, never one above. Every
# source file must be placed in a layer here, so a new file cannot slip past.
# Where a lower layer must reach up at run time, it does so through a hook
# the upper layer installs (gm_mcache_slow_hook), never through an include.
set -u
src=${1:?usage: check_layers.sh SRC_DIR}

# Bottom first. One line a layer: its name, then its files' base names.
layers=(
  "base config internal error os os_linux options fixalloc vg"
  "pagealloc pagealloc pallocbits"
  "span sizeclasses sizeclass sizeclass_load span arena"
  "mheap mheap scavenger"
  "mcentral mcentral"
  "mcache mcache mcache_internal mcache_hot mcache_reclaim mcache_registry"
  "api mallocgc free malloc debugheap"
  "gc gc gcalloc gcstw gcroots gcmark gcsweep gcfinal"
  "top init background stats statsprint heapmap heapdump mallinfo"
  "exports override"
)
declare -A level
for i in "${!layers[@]}"; do
  read -r -a words <<<"${layers[$i]}"
  for f in "${words[@]:1}"; do level[$f]=$i; done
done
name_of() { read -r -a w <<<"${layers[$1]}"; echo "${w[0]}"; }

passed=0 failed=0
for path in "$src"/*.c "$src"/*.h; do
  f=$(basename "$path"); f=${f%.*}
  if [[ -z ${level[$f]+x} ]]; then
    echo "FAIL $f: not placed in any layer (add it to tests/structure/check_layers.sh)"
    failed=$((failed + 1))
    continue
  fi
  ok=1
  while read -r inc; do
    [[ -z $inc ]] && continue
    if [[ -z ${level[$inc]+x} ]]; then
      [[ -f $src/$inc.h ]] || continue # a public header (include/)
      echo "FAIL $f: includes $inc.h, which is in no layer"
      ok=0
    elif ((level[$inc] > level[$f])); then
      echo "FAIL $(basename "$path") ($(name_of "${level[$f]}")) includes $inc.h ($(name_of "${level[$inc]}")): a call up the stack"
      ok=0
    fi
  done < <(sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$path")
  if ((ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
((failed == 0))
