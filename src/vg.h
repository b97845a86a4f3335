/* vg.h: memcheck's view of the heap, in valgrind builds (GM_VALGRIND=1,
 * `make VALGRIND=1`, or the libgomalloc_vg.so the tests build).
 *
 * memcheck replaces glibc's malloc with its own, which knows every block;
 * a program running gomalloc instead hands memcheck plain mapped memory,
 * all of it addressable and defined, so overruns, uses after free, leaks
 * and reads of uninitialised heap bytes go unseen. These macros tell
 * memcheck what gomalloc knows, through its client requests:
 *
 *   - every page a span takes is made no-access (GM_VG_NOACCESS in mheap.c),
 *     and so again when it goes back, so the slack of a slot past the
 *     request, never-used slots and free pages all trap;
 *   - every block the program is given is announced at the API, where its
 *     user-visible pointer and size are known (GM_VG_MALLOC: addressable
 *     and undefined, or defined for calloc), every block freed is withdrawn
 *     there (GM_VG_FREE: no-access again, and remembered, so a use after
 *     free names the block and where it was freed), and realloc in place
 *     resizes (GM_VG_RESIZE);
 *   - the span structs (fixalloc chunks) and arena records have
 *     addressing errors off in their range (GM_VG_HIDE), which memcheck's
 *     leak checker takes as "do not scan": it no longer finds s->base or
 *     an arena's base there, which made every leaked large block, and the
 *     leaked first block of each span, "still reachable". memcheck warns
 *     at exit that these ranges are still in force; they are meant to be.
 *
 * gomalloc reads its bitmaps, never its free blocks, so the no-access
 * slots do not trip it. What does touch block memory: realloc's copy
 * (bounded by the size memcheck knows, GM_VG_SIZE) and the debug heap's
 * canaries and fills (run with error reporting off, GM_VG_QUIET).
 *
 * Off (the default) every macro is empty and <valgrind/memcheck.h> is not
 * even included: not one instruction of a release build changes. On,
 * each request is a few instructions of no-ops when the program is not
 * under valgrind. */
#ifndef GM_VG_H
#define GM_VG_H

#include <stddef.h>

#ifndef GM_VALGRIND
#define GM_VALGRIND 0
#endif

#if GM_VALGRIND
#include <valgrind/memcheck.h>

#define GM_VG_MALLOC(p, n, zeroed) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, (zeroed))
#define GM_VG_FREE(p)                                                                              \
  do {                                                                                             \
    if (p)                                                                                         \
      VALGRIND_FREELIKE_BLOCK((p), 0);                                                             \
  } while (0)
#define GM_VG_RESIZE(p, old, n) VALGRIND_RESIZEINPLACE_BLOCK((p), (old), (n), 0)
#define GM_VG_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
#define GM_VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
/* Metadata the leak checker must not scan for pointers: memcheck skips
 * words in a range whose addressing errors are off (and there are none to
 * report: the memory is ours and mapped). */
#define GM_VG_HIDE(p, n) VALGRIND_DISABLE_ADDR_ERROR_REPORTING_IN_RANGE((p), (n))
#define GM_VG_QUIET_BEGIN() VALGRIND_DISABLE_ERROR_REPORTING
#define GM_VG_QUIET_END() VALGRIND_ENABLE_ERROR_REPORTING

/* The size memcheck knows for live block p, whose slot holds max bytes:
 * the offset of its first no-access byte (the slack past the request is
 * no-access). max when not running under valgrind. */
static inline size_t gm_vg_size(const void *p, size_t max) {
  if (!RUNNING_ON_VALGRIND)
    return max;
  VALGRIND_DISABLE_ERROR_REPORTING;
  size_t bad = (size_t)VALGRIND_CHECK_MEM_IS_ADDRESSABLE(p, max);
  VALGRIND_ENABLE_ERROR_REPORTING;
  return bad ? bad - (size_t)p : max;
}
#define GM_VG_SIZE(p, max) gm_vg_size((p), (max))
#else
#define GM_VG_SIZE(p, max) (max)
#define GM_VG_MALLOC(p, n, zeroed) ((void)0)
#define GM_VG_FREE(p) ((void)0)
#define GM_VG_RESIZE(p, old, n) ((void)0)
#define GM_VG_NOACCESS(p, n) ((void)0)
#define GM_VG_DEFINED(p, n) ((void)0)
#define GM_VG_HIDE(p, n) ((void)0)
#define GM_VG_QUIET_BEGIN() ((void)0)
#define GM_VG_QUIET_END() ((void)0)
#endif

#endif
