/* gc_mark.h: of Boehm's mark interface, the calls a client uses to
 * allocate by kind (GC_I_PTRFREE, GC_I_NORMAL and the uncollectable kinds
 * are the only kinds). Custom kinds and mark procedures (GC_new_kind,
 * GC_new_proc, GC_mark_and_push) need Boehm's mark stack and are not
 * offered: a program using them fails to build. */
#ifndef GOMALLOC_GC_MARK_H
#define GOMALLOC_GC_MARK_H

#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GC_I_PTRFREE 0
#define GC_I_NORMAL 1
#define GC_I_UNCOLLECTABLE 2 /* Boehm's internal kind numbers */
#define GC_I_AUNCOLLECTABLE 3

GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc_ignore_off_page(size_t,
                                                                                          int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc_uncollectable(size_t,
                                                                                        int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_or_special_malloc(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_generic_or_special_malloc(size_t, int, GC_EXTRA_PARAMS);
#ifdef GC_DEBUG
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_debug_generic_or_special_malloc(sz, knd, GC_EXTRAS)
#else
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_generic_or_special_malloc(sz, knd)
#endif
/* The kind of the object p points into, its size in *psize. */
GC_API int GC_CALL GC_get_kind_and_size(const void *, size_t *) GC_ATTR_NONNULL(1);
/* 0: objects carry no debug header. */
GC_API size_t GC_CALL GC_get_debug_header_size(void);
GC_API void *GC_CALL GC_clear_stack(void *);

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_GC_MARK_H */
