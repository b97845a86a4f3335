#!/usr/bin/env bash
# check_pkgconfig.sh BUILD_DIR SRC_DIR CC: install the build into a
# scratch prefix and build the Boehm-style programs boehm_prog.c and
# boehm_final.c (also as a GC_DEBUG build through <gc/gc.h>), unchanged,
# with `cc $(pkg-config --cflags gomalloc-gc) prog.c $(pkg-config --libs
# gomalloc-gc)`, then run them. Skips (77) without pkg-config.
set -eu
build=$1 src=$2 cc=$3
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name gomalloc-gc.pc | head -1)")
export PKG_CONFIG_PATH=$pc
libdir=$(pkg-config --variable=libdir gomalloc-gc)
build_run() { # NAME SOURCE [CFLAGS...]
  local name=$1 file=$2
  shift 2
  # shellcheck disable=SC2046
  "$cc" "$@" $(pkg-config --cflags gomalloc-gc) "$src/tests/gc/$file" -o "$tmp/$name" \
    $(pkg-config --libs gomalloc-gc) -Wl,-rpath,"$libdir"
  echo "== $name"
  "$tmp/$name"
}
build_run prog boehm_prog.c
build_run final boehm_final.c
build_run final_debug boehm_final.c -DGC_DEBUG -DUSE_GC_SUBDIR
