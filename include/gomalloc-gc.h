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
 * return EINTR. The heap goal is Go's GOGC: live bytes after the last mark
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
/* Keeps the kind of p; realloc(NULL, n) is gm_gc_malloc(n). */
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
};
/* Fill *st (size: sizeof *st, so that the struct can grow). 0 on success. */
GM_GC_API int gm_gc_stats(struct gm_gc_stats *st, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_GC_H */
