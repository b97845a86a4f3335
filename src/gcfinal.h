/* gcfinal.h: finalizers and disappearing links of the collected heap
 * (gcfinal.c; Go's specials in mfinal.go, Boehm's finalize.c). */
#ifndef GM_GCFINAL_H
#define GM_GCFINAL_H

#include "gc.h"

/* The cycle's hook, world stopped and gm_gc.lock held, after the roots are
 * marked and before the sweep: keeps what finalizers need, queues the
 * finalizers of unreachable objects, clears links to unreachable objects. */
void gm_gc_final_mark(void);

/* Block [p, p + size) is about to be freed (gm_gc_free, or gm_gc_realloc
 * moving it or to size 0; lock held). Its finalizer goes: Boehm's stays
 * and runs at the next collection on the freed block. Links to the block
 * and links held in it are left to the next collection, as Boehm's are,
 * which sees the block free; unless it is large, whose pages a new block
 * may take before then: they are cleared and forgotten now, a walk of the
 * link tables (when there are links). */
void gm_gc_final_forget_locked(uintptr_t p, size_t size, bool large);

#endif /* GM_GCFINAL_H */
