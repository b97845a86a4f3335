/* gc_disclaim.h: Boehm's disclaim procedures and GC_finalized_malloc, on
 * gomalloc's finalizers (compat/gc_boehm_ext.c). Where it differs from
 * Boehm: a disclaim procedure runs where finalizers run (the first GC_*
 * allocation after the cycle that found the object unreachable, outside
 * every lock), not inside the sweep; an object it returned 0 for is freed
 * by the next cycle; GC_finalized_malloc objects carry no header word
 * (GC_base(p) == p). Procedures on GC_I_NORMAL or GC_I_PTRFREE work but
 * send every GC_malloc through a slower path. */
#ifndef GOMALLOC_GC_DISCLAIM_H
#define GOMALLOC_GC_DISCLAIM_H

#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nothing to prepare: accepted for Boehm programs. */
GC_API void GC_CALL GC_init_finalized_malloc(void);

/* Called on each object of the kind found unreachable; non-zero keeps it
 * (this cycle). With mark_from_all, what the object reaches stays alive
 * until the procedure has run (a chain takes a cycle a link). */
typedef int(GC_CALLBACK *GC_disclaim_proc)(void *obj);
GC_API void GC_CALL GC_register_disclaim_proc(int kind, GC_disclaim_proc proc, int mark_from_all)
    GC_ATTR_NONNULL(2);

struct GC_finalizer_closure {
  GC_finalization_proc proc;
  void *cd;
};
/* A scanned, zeroed object whose fc->proc(obj, fc->cd) runs once it is
 * unreachable; what it reaches (fc too) stays alive until then. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_finalized_malloc(size_t size, const struct GC_finalizer_closure *fc) GC_ATTR_NONNULL(2);

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_GC_DISCLAIM_H */
