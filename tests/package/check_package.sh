#!/usr/bin/env bash
# check_package.sh BUILD_DIR SOURCE_DIR VERSION CC MAN_OPTIONS_CHECK
#
# CTest package.deb: the Debian package `make package` builds, from this
# build tree (cpack with its CPackConfig.cmake), unpacked into a scratch
# root with `dpkg -x` (no system install, a prefix other than the one
# configured) and used from there:
#   - its control fields (name, version, maintainer, section, description,
#     Depends from dpkg-shlibdeps) and its files: both libraries, the
#     headers, gomalloc.pc, the CMake package, the command, both man pages;
#   - a program built with `pkg-config --cflags --libs gomalloc` (the .pc
#     relocated through ${pcfiledir}; once with PKG_CONFIG_SYSROOT_DIR too)
#     and one built with find_package(gomalloc) (CMAKE_PREFIX_PATH), shared
#     and static, run: gm_version() is VERSION and malloc is gomalloc's
#     (tests/package/consumer/app.c);
#   - the unpacked `gomalloc run --stats` finds the unpacked library;
#   - the man pages list every option of the library's table
#     (MAN_OPTIONS_CHECK) and render with `man` without warnings.
# Exit 0 if all holds, 1 if not, 77 (CTest skip) without dpkg-deb, cpack
# or pkg-config.
set -u
build=${1:?usage: check_package.sh BUILD_DIR SOURCE_DIR VERSION CC MAN_OPTIONS_CHECK}
src=${2:?} version=${3:?} cc=${4:?} mancheck=${5:?}
for tool in dpkg-deb cpack pkg-config; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gm-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

# ---- the package -------------------------------------------------------------------
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/cpack" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"
  fail "cpack -G DEB"
  echo "$passed passed, $failed failed"
  exit 1
fi
deb=$(ls "$tmp"/cpack/*.deb)
echo "package: $(basename "$deb")"
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: gomalloc" test "$(field Package)" = gomalloc
check "Version: $version" test "$(field Version)" = "$version"
check "Maintainer: $(field Maintainer)" test -n "$(field Maintainer)"
check "Section: $(field Section)" test -n "$(field Section)"
check "Description: $(field Description | head -1)" test "$(field Description | wc -l)" -gt 2
if command -v dpkg-shlibdeps >/dev/null; then
  check "Depends: $(field Depends) (dpkg-shlibdeps)" grep -q '^libc6 (>= ' <<<"$(field Depends)"
fi

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/files"
for f in '/usr/lib/(.*/)?libgomalloc\.so' '/usr/lib/(.*/)?libgomalloc\.so\.0\..*' \
  '/usr/lib/(.*/)?libgomalloc\.a' '/usr/lib/(.*/)?libgomalloc_prof\.so' /usr/include/gomalloc.h /usr/include/gomalloc-stats.h \
  '/usr/lib/(.*/)?pkgconfig/gomalloc\.pc' '/usr/lib/(.*/)?cmake/gomalloc/gomallocConfig\.cmake' \
  '/usr/lib/(.*/)?cmake/gomalloc/gomallocTargets\.cmake' /usr/bin/gomalloc \
  '/usr/share/man/man1/gomalloc\.1' '/usr/share/man/man3/gomalloc\.3'; do
  check "holds $f" grep -Eq "^$f\$" "$tmp/files"
done

# ---- unpacked into a scratch root ----------------------------------------------------
root=$tmp/root
dpkg -x "$deb" "$root" || fail "dpkg -x"
pc=$(dirname "$(find "$root" -name gomalloc.pc | head -1)")
libdir=$(dirname "$pc")

run_app() { # name, then the program and its arguments
  local name=$1 out
  shift
  if out=$("$@" "$version" 2>&1) && grep -q "^gomalloc $version ok" <<<"$out"; then
    ok "$name: $out"
  else
    fail "$name: $out"
  fi
}

# pkg-config: only the unpacked .pc is visible.
export PKG_CONFIG_LIBDIR=$pc PKG_CONFIG_PATH=
flags=$(pkg-config --cflags --libs gomalloc) || fail "pkg-config gomalloc"
echo "pkg-config: $flags"
check "pkg-config --modversion" test "$(pkg-config --modversion gomalloc)" = "$version"
check "pkg-config points into the unpacked root" grep -q -- "-I$root/" <<<"$flags"
# shellcheck disable=SC2086 # the flags are words
if "$cc" -o "$tmp/app_pc" "$src/tests/package/consumer/app.c" $flags 2>"$tmp/cc.log"; then
  run_app "pkg-config build" env LD_LIBRARY_PATH="$libdir" "$tmp/app_pc"
else
  cat "$tmp/cc.log"; fail "pkg-config build"
fi
sysflags=$(PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags --libs gomalloc)
check "pkg-config with PKG_CONFIG_SYSROOT_DIR: same flags" test "$sysflags" = "$flags"
static=$(pkg-config --static --libs-only-l gomalloc | sed 's/-lgomalloc//')
# shellcheck disable=SC2086
if "$cc" -o "$tmp/app_pc_static" "$src/tests/package/consumer/app.c" \
  $(pkg-config --cflags gomalloc) "$libdir/libgomalloc.a" $static 2>"$tmp/cc.log"; then
  run_app "pkg-config static build (Libs.private:$static)" "$tmp/app_pc_static"
else
  cat "$tmp/cc.log"; fail "pkg-config static build"
fi
unset PKG_CONFIG_LIBDIR PKG_CONFIG_PATH

# CMake: find_package(gomalloc) from the unpacked prefix.
if cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/cmake.log" 2>&1 &&
  cmake --build "$tmp/consumer" >>"$tmp/cmake.log" 2>&1; then
  found=$(sed -n 's/^gomalloc_DIR:PATH=//p' "$tmp/consumer/CMakeCache.txt")
  check "find_package found the unpacked package ($found)" test "${found#"$root"/}" != "$found"
  run_app "find_package build, gomalloc::gomalloc" "$tmp/consumer/app_shared"
  check "app_shared loads the unpacked libgomalloc.so" \
    grep -q "$root/.*libgomalloc.so" <<<"$(ldd "$tmp/consumer/app_shared")"
  run_app "find_package build, gomalloc::gomalloc_static" "$tmp/consumer/app_static"
else
  cat "$tmp/cmake.log"; fail "find_package build"
fi

# The command, run from the unpacked root, preloads the unpacked library.
out=$("$root/usr/bin/gomalloc" run --stats -- /bin/echo hi 2>&1)
check "unpacked gomalloc run --stats" grep -q "^gomalloc $version heap statistics of echo" <<<"$out"
# --profile finds the unpacked profiler beside the library; report draws it.
"$root/usr/bin/gomalloc" run --profile "$tmp/prof" -- /bin/echo hi >/dev/null 2>"$tmp/prof.err"
check "unpacked gomalloc run --profile" test -s "$tmp/prof/sizes.tsv" -a -s "$tmp/prof/heap.dump"
check "unpacked gomalloc report" "$root/usr/bin/gomalloc" report "$tmp/prof"

# ---- man pages -------------------------------------------------------------------------
man1=$root/usr/share/man/man1/gomalloc.1 man3=$root/usr/share/man/man3/gomalloc.3
if "$mancheck" "$man1" "$man3" >"$tmp/mancheck.log" 2>&1; then
  ok "man pages list the options table ($(tail -1 "$tmp/mancheck.log"))"
else
  cat "$tmp/mancheck.log"; fail "man pages list the options table"
fi
if command -v man >/dev/null; then
  for page in "$man1" "$man3"; do
    if MANWIDTH=80 man --warnings -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err" &&
      [[ ! -s $tmp/man.err ]] && grep -q '^NAME' "$tmp/man.txt" &&
      grep -q 'GOMALLOC_SCAVENGER_MARGIN=PERCENT' "$tmp/man.txt"; then
      ok "man -l $(basename "$page") renders ($(wc -l <"$tmp/man.txt") lines, no warnings)"
    else
      cat "$tmp/man.err"; fail "man -l $(basename "$page")"
    fi
  done
else
  echo "skip: no man to render the pages"
fi

echo "$passed passed, $failed failed"
((failed == 0))
