/* gc_mark.h: Boehm's mark interface (compat/gc_boehm_ext.c). Allocation
 * by kind and custom kinds (GC_new_kind): a kind's objects are scanned
 * whole, conservatively, or not at all when the descriptor says they hold
 * no pointer, or, for a mark procedure (GC_new_proc, GC_MAKE_PROC), marked
 * by the procedure alone: it is called in every collection's pause on
 * each allocated object of its kind, reachable or not (Boehm: on the
 * reachable ones), and its GC_MARK_AND_PUSH calls mark. Per-object
 * descriptors are not read (scanned whole). GC_is_marked and the mark-bit
 * setters work on a table of this layer's: what a disclaim procedure
 * needs to tell a weak table's object taken back. */
#ifndef GOMALLOC_GC_MARK_H
#define GOMALLOC_GC_MARK_H

#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GC_PROC_BYTES 100
struct GC_ms_entry {
  void *opaque;
};
typedef struct GC_ms_entry *(*GC_mark_proc)(GC_word *addr, struct GC_ms_entry *mark_stack_ptr,
                                            struct GC_ms_entry *mark_stack_limit, GC_word env);
#define GC_LOG_MAX_MARK_PROCS 6
#define GC_MAX_MARK_PROCS (1 << GC_LOG_MAX_MARK_PROCS)
#define GC_DS_TAG_BITS 2
#define GC_DS_TAGS ((1 << GC_DS_TAG_BITS) - 1)
#define GC_DS_LENGTH 0
#define GC_DS_BITMAP 1
#define GC_DS_PROC 2
#define GC_MAKE_PROC(proc_index, env)                                                              \
  (((((env) << GC_LOG_MAX_MARK_PROCS) | (proc_index)) << GC_DS_TAG_BITS) | GC_DS_PROC)
#define GC_DS_PER_OBJECT 3
#define GC_INDIR_PER_OBJ_BIAS 0x10
GC_API void *GC_least_plausible_heap_addr;
GC_API void *GC_greatest_plausible_heap_addr;
/* From a mark procedure: marks obj (and what it reaches); returns mark_stack_ptr. */
GC_API struct GC_ms_entry *GC_CALL GC_mark_and_push(void *, struct GC_ms_entry *,
                                                    struct GC_ms_entry *, void **);
#define GC_MARK_AND_PUSH(obj, msp, lim, src)                                                       \
  ((GC_word)(obj) >= (GC_word)GC_least_plausible_heap_addr &&                                      \
           (GC_word)(obj) <= (GC_word)GC_greatest_plausible_heap_addr                              \
       ? GC_mark_and_push(obj, msp, lim, src)                                                      \
       : (msp))
GC_API void **GC_CALL GC_new_free_list(void);
GC_API void **GC_CALL GC_new_free_list_inner(void);
GC_API unsigned GC_CALL GC_new_kind(void **free_list, GC_word mark_descriptor_template,
                                    int add_size_to_descriptor, int clear_new_objects)
    GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_kind_inner(void **, GC_word, int, int) GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_proc(GC_mark_proc);
GC_API unsigned GC_CALL GC_new_proc_inner(GC_mark_proc);
/* Best effort (no collector mark bits outside a cycle): 1 after
 * GC_set_mark_bit, until the end of the next cycle or GC_clear_mark_bit;
 * 0 for the object whose disclaim procedure is running; 1 for any other
 * live block. The argument may point anywhere inside the object. */
GC_API int GC_CALL GC_is_marked(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_clear_mark_bit(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_set_mark_bit(const void *) GC_ATTR_NONNULL(1);

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
