# packaging.cmake: `make package` (CPack, DEB generator). One package,
# gomalloc, with everything `cmake --install` installs: libgomalloc.so and
# libgomalloc.a, the headers, gomalloc.pc, the CMake package, the `gomalloc`
# command and the man pages gomalloc(1) and gomalloc(3). One package rather
# than Debian's lib/-dev split: the library is small, and the command and
# the static library are what a user of it wants next to it.
#
# The Makefile configures a build-package/ tree with the prefix /usr (so
# GNUInstallDirs picks Debian's multiarch libdir) and runs cpack there;
# CTest package.deb (tests/package) packs the test build tree instead.
set(GM_PACKAGE_MAINTAINER "gomalloc developers" CACHE STRING "The .deb's Maintainer field")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gomalloc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "gomalloc developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "memory allocator built on the design of Go's runtime allocator")
set(CPACK_PACKAGE_DESCRIPTION
  "gomalloc replaces malloc, free and the rest of the C and C++ allocation
interface, linked (-lgomalloc) or preloaded (LD_PRELOAD=libgomalloc.so).
It uses Go's size classes, spans with allocation bitmaps, per-thread span
caches, central span lists and a page heap with a radix tree of free-run
summaries, and returns memory to the kernel from a scavenger thread.
.
This package holds the shared and static libraries, the headers, the
pkg-config and CMake files, the gomalloc command (run a program with
gomalloc, print heap statistics, draw a heap map) and the man pages.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${GM_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # gomalloc_<version>_<arch>.deb
# Depends computed from the ELF files (libc6 (>= ...)) where dpkg-shlibdeps
# is there (dpkg-dev); otherwise the one dependency stated by hand.
find_program(GM_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(GM_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6")
endif()
# A shlibs file and the ldconfig trigger, as for any package with a shared library.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Staged installs only: never the running system's prefix.
set(CPACK_SET_DESTDIR OFF)
include(CPack)
