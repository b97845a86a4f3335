/* gcfinal.h: finalizers and disappearing links of the collected heap
 * (gcfinal.c; Go's specials in mfinal.go, Boehm's finalize.c). */
#ifndef GM_GCFINAL_H
#define GM_GCFINAL_H

#include "gc.h"

/* The cycle's hook, world stopped and gm_gc.lock held, after the roots are
 * marked and before the sweep: keeps what finalizers need, queues the
 * finalizers of unreachable objects, clears links to unreachable objects. */
void gm_gc_final_mark(void);

/* Drop the finalizer of block p, which gm_gc_free is about to free. */
void gm_gc_final_forget(void *p);

#endif /* GM_GCFINAL_H */
