#!/usr/bin/env bash
# check_pkgconfig.sh BUILD_DIR SRC_DIR CC: install the build into a
# scratch prefix and build the Boehm-style program boehm_prog.c, unchanged,
# with `cc $(pkg-config --cflags gomalloc-gc) prog.c $(pkg-config --libs
# gomalloc-gc)`, then run it. Skips (77) without pkg-config.
set -eu
build=$1 src=$2 cc=$3
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name gomalloc-gc.pc | head -1)")
export PKG_CONFIG_PATH=$pc
libdir=$(pkg-config --variable=libdir gomalloc-gc)
# shellcheck disable=SC2046
"$cc" $(pkg-config --cflags gomalloc-gc) "$src/tests/gc/boehm_prog.c" -o "$tmp/prog" \
  $(pkg-config --libs gomalloc-gc) -Wl,-rpath,"$libdir"
"$tmp/prog"
