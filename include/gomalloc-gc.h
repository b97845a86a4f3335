/* gomalloc-gc.h: the garbage-collected heap (opt-in; issue 17).
 *
 * Go's mark and sweep on gomalloc's spans: blocks from gm_gc_malloc are
 * freed by the collector once no pointer reaches them. Pointers are found
 * conservatively, as Boehm GC does: any word that holds an address inside a
 * collected block (its start or any byte inside it) keeps it alive. Roots:
 *   - the stacks and registers of registered threads (a thread registers
 *     itself by calling any gm_gc_* function; gm_gc_register_thread does it
 *     explicitly, for a thread that only holds pointers);
 *   - the data and bss of the program and of every loaded library (read
 *     again at each collection, so dlopen works), RELRO left out;
 *   - ranges given to gm_gc_add_roots, and gm_gc_malloc_uncollectable blocks.
 * Not scanned (as in Boehm): memory from plain malloc, thread-local storage,
 * and gm_gc_malloc_noscan blocks. A pointer one past a block's end does not
 * keep it alive (gomalloc adds no padding byte).
 *
 * Collections stop the world with a real-time signal (GOMALLOC_GC_SIGNAL),
 * delivered to registered threads only; a system call it interrupts may
 * return EINTR. (Under ThreadSanitizer, which runs a handler only at an
 * intercepted call it counts as blocking, a thread spinning or waiting on
 * a pthread mutex does not stop, and a collection waits for it.) The heap
 * goal is Go's GOGC: live bytes after the last mark
 * times (1 + GOMALLOC_GC_PERCENT / 100), at least 4 MiB; "off" never
 * collects but for gm_gc_collect. GOMALLOC_GC_TRACE=1 prints one line per
 * collection on stderr. */
#ifndef GOMALLOC_GC_H
#define GOMALLOC_GC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GM_GC_API __attribute__((visibility("default")))
#define GM_GC_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#else
#define GM_GC_API
#define GM_GC_MALLOC_ATTR
#endif

/* Zeroed, scanned for pointers. NULL + ENOMEM on failure. */
GM_GC_API GM_GC_MALLOC_ATTR void *gm_gc_malloc(size_t size);
/* Not zeroed, never scanned: the caller stores no pointers in it. */
GM_GC_API GM_GC_MALLOC_ATTR void *gm_gc_malloc_noscan(size_t size);
/* Zeroed, scanned, never collected: a root until gm_gc_free. */
GM_GC_API GM_GC_MALLOC_ATTR void *gm_gc_malloc_uncollectable(size_t size);
/* Keeps the kind of p; realloc(NULL, n) is gm_gc_malloc(n). In place
 * (the size still fits p's slot, or a large block stays at least half
 * used) p keeps its finalizer and links. A block that moves is a new
 * object, and p is freed as by gm_gc_free, as Boehm 8.2's GC_realloc
 * does: the new block has no finalizer (set it again), p's is dropped
 * (Boehm's runs at the next collection, on the freed block), links to p
 * are cleared and links held in p forgotten (see the links below). */
GM_GC_API void *gm_gc_realloc(void *p, size_t size);
/* Optional: p must not be used again. Aborts on a pointer that is not a
 * collected block's start, or one already freed. */
GM_GC_API void gm_gc_free(void *p);
/* Usable size of a collected block (0 for NULL). */
GM_GC_API size_t gm_gc_size(const void *p);
/* The start of the live collected block p points into (its start or any
 * byte inside it), or NULL if p points into none (Boehm's GC_base). */
GM_GC_API void *gm_gc_base(const void *p);
/* A full collection now. */
GM_GC_API void gm_gc_collect(void);
/* Scan [lo, hi) as a root at every collection, until removed. */
GM_GC_API void gm_gc_add_roots(void *lo, void *hi);
/* Forget every root range inside [lo, hi). */
GM_GC_API void gm_gc_remove_roots(void *lo, void *hi);
/* Never scan [lo, hi) as part of a program's or library's data or bss
 * (a large table known to hold no pointers to collected blocks). Whole
 * words: a word the range touches is left out. Lasts for the process. */
GM_GC_API void gm_gc_exclude_roots(void *lo, void *hi);
/* The signal that stops threads for a collection (GOMALLOC_GC_SIGNAL,
 * else SIGRTMIN+7). gm_gc_set_signal chooses it before the collector
 * starts (the first gm_gc_* call that allocates, collects or registers a
 * thread): 0, or -1 with errno EINVAL (not a usable signal) or EBUSY
 * (started already). A thread that blocks the signal stalls collections. */
GM_GC_API int gm_gc_set_signal(int sig);
GM_GC_API int gm_gc_signal(void);
/* A mark hook, for language runtimes whose objects reach memory the
 * collector does not scan (Boehm's mark procedures: Guile's VM stacks).
 * Called in every collection's pause, world stopped, after the roots are
 * marked and before finalizers are looked at; it may call gm_gc_mark_ptr
 * and nothing else of gomalloc's (no allocation), nor take a lock that a
 * stopped thread may hold. NULL removes it. */
typedef void (*gm_gc_mark_hook_fn)(void);
GM_GC_API void gm_gc_set_mark_hook(gm_gc_mark_hook_fn fn);
/* Inside the mark hook only: keep the block p points into (any byte of
 * it), and all it reaches. Anything else is ignored. */
GM_GC_API void gm_gc_mark_ptr(const void *p);
/* Threads: automatic on a thread's first gm_gc_* call; unregistered at
 * thread exit. Registering again is harmless. */
GM_GC_API void gm_gc_register_thread(void);
GM_GC_API void gm_gc_unregister_thread(void);
/* GOGC: returns the previous value; a negative value turns the collector
 * off (as GOMALLOC_GC_PERCENT=off). */
GM_GC_API int gm_gc_set_percent(int percent);

struct gm_gc_stats {
  uint64_t collections;   /* completed cycles */
  uint64_t heap_goal;     /* bytes: the next cycle starts above this */
  uint64_t heap_live;     /* bytes in use or handed to caches since the last mark */
  uint64_t live_after_mark; /* bytes marked by the last cycle */
  uint64_t heap_bytes;    /* bytes of spans holding collected blocks */
  uint64_t total_pause_ns, max_pause_ns, last_pause_ns;
  uint64_t threads;       /* registered threads */
  uint64_t freed_objects; /* objects the sweeps freed, all cycles */
  uint64_t total_alloc_bytes; /* span space and large blocks handed out, ever */
  uint64_t unswept_spans; /* spans the last cycle's sweep has not reached yet */
};
/* Fill *st (size: sizeof *st, so that the struct can grow). 0 on success. */
GM_GC_API int gm_gc_stats(struct gm_gc_stats *st, size_t size);

/* Finalizers (Boehm's semantics; src/gcfinal.c). Once obj is unreachable,
 * fn(obj, arg) is queued, obj kept alive until it has run, then forgotten:
 * it runs once, from gm_gc_run_finalizers, outside every gomalloc lock.
 * arg is a root while registered. Orders: ORDERED, if A reaches B both
 * finalizable, runs A's first and B's a cycle later (a cycle of them is
 * never finalized); IGNORE_SELF alike, but pointers from obj into itself
 * do not count; NO_ORDER ignores what reaches obj; UNREACHABLE waits
 * until no other finalizable object reaches obj. fn NULL removes the
 * finalizer. *old_fn and *old_arg (when given) get the previous one.
 * gm_gc_free drops a block's finalizer. Returns 0, or -1 with errno
 * EINVAL (obj not a live collected block) or ENOMEM. */
typedef void (*gm_gc_finalizer_fn)(void *obj, void *arg);
enum {
  GM_GC_FINAL_ORDERED = 0,
  GM_GC_FINAL_IGNORE_SELF = 1,
  GM_GC_FINAL_NO_ORDER = 2,
  GM_GC_FINAL_UNREACHABLE = 3
};
GM_GC_API int gm_gc_set_finalizer(void *obj, gm_gc_finalizer_fn fn, void *arg, int order,
                                  gm_gc_finalizer_fn *old_fn, void **old_arg);
/* Run the queued finalizers; returns how many ran. */
GM_GC_API int gm_gc_run_finalizers(void);
/* Non-zero when finalizers are queued. */
GM_GC_API int gm_gc_finalizers_pending(void);
/* Disappearing links: *link is set to NULL by the first collection that
 * finds obj unreachable; a short link (is_long 0) before finalizers mark
 * anything, a long one only if no finalizer resurrected obj. A link held
 * in a block that dies is forgotten. After gm_gc_free(obj) (or a realloc
 * that moves it) links to obj are cleared by the next collection, as in
 * Boehm; at once if obj is large (its pages may hold a new block before
 * then). Register returns 0, 1 when link was
 * registered already (its object is replaced), -1 + EINVAL (link NULL or
 * misaligned, obj NULL) or ENOMEM. Unregister returns 1 if link was
 * registered, else 0. Move returns 0, 1 if new_link is registered already,
 * -1 if link is not. */
GM_GC_API int gm_gc_register_link(void **link, const void *obj, int is_long);
GM_GC_API int gm_gc_unregister_link(void **link, int is_long);
GM_GC_API int gm_gc_move_link(void **link, void **new_link, int is_long);
/* Collections begun so far: bumped in each pause, readable without a call
 * or a lock (the Boehm layer polls it after allocating). */
GM_GC_API extern volatile uint64_t gm_gc_epoch;

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_GC_H */
