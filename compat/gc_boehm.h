/* gc_boehm.h: what the two files of libgomalloc-gc share. */
#ifndef GM_GC_BOEHM_H
#define GM_GC_BOEHM_H

#include "gc.h"
#include "gc_backptr.h"
#include "gc_mark.h"
#include "gc_typed.h"

#include <dlfcn.h>
#include <stdint.h>

#define GM_BOEHM_HIDDEN __attribute__((visibility("hidden")))

/* A collection happened since the last look: refresh GC_gc_no, run or
 * announce the queued finalizers (gc_boehm.c). */
GM_BOEHM_HIDDEN void gm_boehm_after_cycle(void);
static inline void gm_boehm_after_cycle_check(void) { gm_boehm_after_cycle(); }
/* GC_set_oom_fn, or a disclaim procedure on a built-in kind: the
 * allocation fast path must now take the slow path. */
GM_BOEHM_HIDDEN void gm_boehm_oom_fn_changed(void);
/* gc_boehm_ext.c: set once a built-in kind has a disclaim procedure; the
 * slow path then arms each new object (alloc_kind's numbering). */
GM_BOEHM_HIDDEN extern int gm_boehm_builtin_disclaim;
GM_BOEHM_HIDDEN void *gm_boehm_disclaim_arm(void *p, unsigned alloc_kind);
/* GC_free: drop p from the objects whose mark procedure is called. */
GM_BOEHM_HIDDEN void gm_boehm_forget_proc_object(void *p);
/* Ask the toggle-ref callback about every registered object. */
GM_BOEHM_HIDDEN void gm_boehm_togglerefs(void);

#endif /* GM_GC_BOEHM_H */
