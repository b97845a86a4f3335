/* override.c: the libc allocation names, served by gomalloc. Compiled only
 * into libgomalloc.so and libgomalloc.a (not into the no-override library
 * used by unit tests and sanitizer builds).
 *
 * malloc and free repeat the inline fast paths of mallocgc.h so they cost no
 * extra call; the rest forward to the gm_* functions. glibc's internal
 * __libc_* names are served too, for programs that call them directly.
 * C++ operator new/delete are not replaced: libstdc++'s call malloc, free
 * and aligned_alloc, which are ours. */
#include "gomalloc.h"
#include "mallocgc.h"
#include "mheap.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>

#define GM_EXPORT __attribute__((visibility("default"), used))

GM_EXPORT void *malloc(size_t size) { return gm_malloc_impl(size); }
GM_EXPORT void free(void *p) {
  if (GM_LIKELY(p != NULL))
    gm_free_impl(p);
}
GM_EXPORT void *calloc(size_t n, size_t size) { return gm_calloc(n, size); }
GM_EXPORT void *realloc(void *p, size_t size) { return gm_realloc(p, size); }
GM_EXPORT void *reallocarray(void *p, size_t n, size_t size) { return gm_reallocarray(p, n, size); }
GM_EXPORT void *aligned_alloc(size_t alignment, size_t size) {
  return gm_aligned_alloc(alignment, size);
}
GM_EXPORT int posix_memalign(void **out, size_t alignment, size_t size) {
  return gm_posix_memalign(out, alignment, size);
}
GM_EXPORT void *memalign(size_t alignment, size_t size) { return gm_memalign(alignment, size); }
GM_EXPORT void *valloc(size_t size) { return gm_valloc(size); }
GM_EXPORT void *pvalloc(size_t size) { return gm_pvalloc(size); }
GM_EXPORT size_t malloc_usable_size(void *p) { return gm_usable_size(p); }
GM_EXPORT void free_sized(void *p, size_t size) { gm_free_sized(p, size); }
GM_EXPORT void free_aligned_sized(void *p, size_t alignment, size_t size) {
  gm_free_aligned_sized(p, alignment, size);
}
GM_EXPORT void cfree(void *p) { free(p); }
GM_EXPORT int malloc_trim(size_t pad) {
  (void)pad;
  return gm_release() > 0;
}

/* mallinfo2: the fields that map onto gomalloc's heap. */
GM_EXPORT struct mallinfo2 mallinfo2(void) {
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  gm_lock(&gm_heap.lock);
  size_t free_bytes = gm_pagealloc_free_pages(&gm_heap.pages) << GM_PAGE_SHIFT;
  mi.arena = gm_heap.mapped_bytes;
  mi.hblkhd = gm_heap.large_pages << GM_PAGE_SHIFT;
  mi.hblks = gm_heap.large_spans;
  mi.uordblks = (gm_heap.small_pages + gm_heap.large_pages) << GM_PAGE_SHIFT;
  mi.fordblks = free_bytes;
  mi.keepcost = free_bytes - (gm_pagealloc_scavenged_pages(&gm_heap.pages) << GM_PAGE_SHIFT);
  gm_unlock(&gm_heap.lock);
  return mi;
}

/* glibc's own names; plain forwarders rather than aliases, so the
 * compilers need not agree on copying libc's attributes. */
GM_EXPORT void *__libc_malloc(size_t size) { return gm_malloc_impl(size); }
GM_EXPORT void __libc_free(void *p) { free(p); }
GM_EXPORT void *__libc_calloc(size_t n, size_t size) { return gm_calloc(n, size); }
GM_EXPORT void *__libc_realloc(void *p, size_t size) { return gm_realloc(p, size); }
GM_EXPORT void *__libc_memalign(size_t alignment, size_t size) { return gm_memalign(alignment, size); }
GM_EXPORT void *__libc_valloc(size_t size) { return gm_valloc(size); }
GM_EXPORT void *__libc_pvalloc(size_t size) { return gm_pvalloc(size); }
GM_EXPORT int __posix_memalign(void **out, size_t alignment, size_t size) {
  return gm_posix_memalign(out, alignment, size);
}
