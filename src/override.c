/* override.c: the libc allocation names, served by gomalloc. Compiled only
 * into libgomalloc.so and libgomalloc.a (not into the no-override library
 * used by unit tests and sanitizer builds).
 *
 * malloc and free repeat the inline fast paths (mallocgc.h, free.h) so they
 * cost no extra call; the rest forward to the gm_* functions (glibc's
 * mallinfo, mallopt and their kin to mallinfo.c, which is why this file is
 * the top layer: it only forwards, to every layer's API). glibc's internal
 * __libc_* names are served too, for programs that call them directly.
 *
 * C++ operator new and delete (all the mangled forms, sized and aligned)
 * are defined here too, in C: libstdc++'s own would reach us through
 * malloc anyway, but its aligned new rounds the size up without an
 * overflow check, and going direct saves a call. Failure follows the C++
 * rules: call the new-handler and retry, then throw std::bad_alloc. The
 * libstdc++ functions for that are weak references, present whenever a
 * C++ program is running (a C program never calls operator new). */
#include "gomalloc.h"
#include "mallocgc.h"
#include "error.h"
#include "mallinfo.h"

#include <malloc.h>
#include <stdio.h>

#define GM_EXPORT __attribute__((visibility("default"), used))

GM_EXPORT void *malloc(size_t size) { return gm_malloc_impl(size); }
GM_EXPORT void free(void *p) { gm_free_impl(p); }
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
GM_EXPORT int malloc_trim(size_t pad) { return gm_trim(pad) > 0; }

/* glibc's introspection and tuning calls (mallinfo.c). */
GM_EXPORT struct mallinfo2 mallinfo2(void) {
  struct mallinfo2 mi;
  gm_mallinfo2_fill(&mi);
  return mi;
}
GM_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo mi;
  gm_mallinfo_fill(&mi);
  return mi;
}
GM_EXPORT void malloc_stats(void) { gm_malloc_stats(); }
GM_EXPORT int malloc_info(int options, FILE *fp) { return gm_malloc_info(options, fp); }
GM_EXPORT int mallopt(int param, int value) { return gm_mallopt(param, value); }

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

/* ---- C++ operator new / delete ------------------------------------------ */

typedef void (*gm_new_handler_t)(void);
extern gm_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/* new's slow path: call the new-handler and retry while there is one;
 * then the throwing forms throw std::bad_alloc and the nothrow forms
 * return NULL (a handler that throws is the C++ caller's business). */
static __attribute__((noinline, cold)) void *cxx_new_failed(size_t size, size_t align, bool nothrow) {
  for (;;) {
    gm_new_handler_t h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
    if (!h)
      break;
    h();
    void *p = align ? gm_aligned_alloc(align, size) : gm_malloc_impl(size);
    if (p)
      return p;
  }
  if (nothrow)
    return NULL;
  if (_ZSt17__throw_bad_allocv)
    _ZSt17__throw_bad_allocv();
  gm_fatal("operator new failed", NULL, "out of memory and no C++ runtime to throw");
}

static inline void *cxx_new(size_t size) {
  void *p = gm_malloc_impl(size);
  return GM_LIKELY(p != NULL) ? p : cxx_new_failed(size, 0, false);
}
static inline void *cxx_new_nothrow(size_t size) {
  void *p = gm_malloc_impl(size);
  return GM_LIKELY(p != NULL) ? p : cxx_new_failed(size, 0, true);
}
static inline void *cxx_new_aligned(size_t size, size_t align) {
  void *p = gm_aligned_alloc(align, size);
  return GM_LIKELY(p != NULL) ? p : cxx_new_failed(size, align, false);
}
static inline void *cxx_new_aligned_nothrow(size_t size, size_t align) {
  void *p = gm_aligned_alloc(align, size);
  return GM_LIKELY(p != NULL) ? p : cxx_new_failed(size, align, true);
}

/* new / new[] */
GM_EXPORT void *_Znwm(size_t n) { return cxx_new(n); }
GM_EXPORT void *_Znam(size_t n) { return cxx_new(n); }
GM_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt) { (void)nt; return cxx_new_nothrow(n); }
GM_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt) { (void)nt; return cxx_new_nothrow(n); }
GM_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t a) { return cxx_new_aligned(n, a); }
GM_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t a) { return cxx_new_aligned(n, a); }
GM_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *nt) {
  (void)nt;
  return cxx_new_aligned_nothrow(n, a);
}
GM_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *nt) {
  (void)nt;
  return cxx_new_aligned_nothrow(n, a);
}

/* delete / delete[], plain, sized, nothrow and aligned */
GM_EXPORT void _ZdlPv(void *p) { free(p); }
GM_EXPORT void _ZdaPv(void *p) { free(p); }
GM_EXPORT void _ZdlPvm(void *p, size_t n) { gm_free_sized(p, n); }
GM_EXPORT void _ZdaPvm(void *p, size_t n) { gm_free_sized(p, n); }
GM_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; free(p); }
GM_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { (void)nt; free(p); }
GM_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t a) { (void)a; free(p); }
GM_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t a) { (void)a; free(p); }
GM_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) { gm_free_aligned_sized(p, a, n); }
GM_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) { gm_free_aligned_sized(p, a, n); }
GM_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *nt) {
  (void)a;
  (void)nt;
  free(p);
}
GM_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *nt) {
  (void)a;
  (void)nt;
  free(p);
}
