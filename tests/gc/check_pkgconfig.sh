#!/usr/bin/env bash
# check_pkgconfig.sh BUILD_DIR SRC_DIR CC CXX: install the build into a
# scratch prefix and build the Boehm-style programs boehm_prog.c,
# boehm_final.c (also as a GC_DEBUG build through <gc/gc.h>) and
# boehm_ext.c, unchanged,
# with `cc $(pkg-config --cflags gomalloc-gc) prog.c $(pkg-config --libs
# gomalloc-gc)`, and the C++ one boehm_cpp.cc (also with gomalloc-gccpp,
# Boehm's libgccpp), then run them. Skips (77) without pkg-config.
set -eu
build=$1 src=$2 cc=$3 cxx=${4:-c++}
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name gomalloc-gc.pc | head -1)")
export PKG_CONFIG_PATH=$pc
libdir=$(pkg-config --variable=libdir gomalloc-gc)
build_run() { # NAME SOURCE [CFLAGS...]
  local name=$1 file=$2 compiler=$cc pkg=gomalloc-gc
  shift 2
  case $file in *.cc) compiler=$cxx ;; esac
  case $name in *gccpp) pkg=gomalloc-gccpp ;; esac
  # shellcheck disable=SC2046
  "$compiler" "$@" $(pkg-config --cflags $pkg) "$src/tests/gc/$file" -o "$tmp/$name" \
    $(pkg-config --libs $pkg) -Wl,-rpath,"$libdir"
  echo "== $name"
  "$tmp/$name"
}
build_run prog boehm_prog.c
build_run final boehm_final.c
build_run final_debug boehm_final.c -DGC_DEBUG -DUSE_GC_SUBDIR
build_run ext boehm_ext.c
build_run cpp boehm_cpp.cc
build_run cpp_gccpp boehm_cpp.cc
# Object code built against Boehm's own header (Debian's libgc-dev), where
# installed, links and runs with libgomalloc-gc unchanged: same names,
# types and macro expansions.
if [ -f /usr/include/gc/gc.h ]; then
  "$cc" -c "$src/tests/gc/boehm_final.c" -o "$tmp/abi.o" -Wno-deprecated-declarations
  # shellcheck disable=SC2046
  "$cc" "$tmp/abi.o" -o "$tmp/abi" $(pkg-config --libs gomalloc-gc) -Wl,-rpath,"$libdir"
  echo "== abi (built against /usr/include/gc/gc.h)"
  "$tmp/abi"
fi
