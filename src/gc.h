/* gc.h: what the files of the garbage-collected heap share (issue 17).
 *
 *   gc.c       the cycle (Go's mgc.go: gcStart, the pacer's heap goal),
 *              the API around it, statistics and the gctrace line
 *   gcalloc.c  allocation: per-thread caches and central span lists of
 *              the collected heap (mallocgc, mcache and mcentral for it)
 *   gcstw.c    registered threads and stopping the world (Go's
 *              stopTheWorld and async preemption's signal)
 *   gcroots.c  root ranges: data and bss of every loaded object, explicit
 *              roots, thread stacks (markroot)
 *   gcmark.c   mark stacks, findObject and greyobject, scanning, helper
 *              markers (mgcmark.go, scanConservative, gcDrain)
 *   gcsweep.c  the sweep: alloc = mark & ~freed (mgcsweep.go)
 *   gcfinal.c  finalizers and disappearing links (mfinal.go; gcfinal.h)
 *
 * Where we leave Go, and why:
 *   - The heap is not Go's: collected blocks live in spans of their own
 *     (state GM_SPAN_GC / GM_SPAN_GC_LARGE), with their own per-thread
 *     caches and central lists, never shared with malloc spans, so plain
 *     malloc pays nothing (its fast paths are unchanged to the instruction).
 *     Plain free() of a collected block is named as such and aborts.
 *   - A stop-the-world mark (v1, parallel: below): Go marks concurrently
 *     behind a write barrier. The sweep runs after the world restarts, as Go's does
 *     (gcsweep.c): lazily, by the thread about to allocate from a span
 *     class or to grow the heap, by any reader of an unswept span, and to
 *     the end at the start of the next cycle (finishsweep_m) or by
 *     gm_gc_collect (runtime.GC). Spans cached by threads are swept inside
 *     the pause instead (a few per thread), so the unlocked fast path never
 *     meets an unswept span and Go's +1/+3 sweepgen states are not needed;
 *     every other sweep runs under gm_gc.lock, so neither is the "being
 *     swept" state (sweepgen - 1): a span is swept or not.
 *   - Conservative everywhere (no type information): a scanned object is
 *     scanned whole, like Boehm's NORMAL kind (large ones in 4 KiB pieces
 *     that markers share).
 *   - Parallel mark inside the pause: helper threads (GOMALLOC_GC_MARKERS,
 *     one per CPU by default) mark with the collector while the world is
 *     stopped, as Boehm's markers do; Go's gcBgMarkWorkers run beside the
 *     mutator instead. Work moves through one pool under a spin lock (Go:
 *     per-P gcWork buffers and a lock-free global list), and parallel marks
 *     set bytes that are packed into the mark bits at the end (Go: an
 *     atomic Or8 per object, which cost our loop 40%; gcmark.c).
 *   - Every GC span change happens under gm_gc.lock, which the collector
 *     holds for the whole cycle; the allocation fast path alone runs
 *     unlocked, inside the thread's busy section (mcache.h), where the stop
 *     signal does not stop a thread (Go: allocation is not a safe point),
 *     and so does reloading the allocCache from the thread's own span (a
 *     span does not change hands there). Helper markers are not registered
 *     threads: never stopped, they touch the heap only while the world is. */
#ifndef GM_GC_H
#define GM_GC_H

#include "arena.h"
#include "fixalloc.h"
#include "internal.h"
#include "mcache.h"
#include "span.h"

#include <sys/types.h>

/* Object kinds (one span holds one kind): scanned, never scanned
 * (spanclass noscan bit, as Go), and scanned roots never collected. */
enum { GM_GC_SCAN = 0, GM_GC_NOSCAN = 1, GM_GC_UNCOLL = 2, GM_GC_KINDS = 3 };

/* A GC span's kind lives in partial_epoch, which only the scavenger reads,
 * and only of malloc spans on central lists (span.h). */
GM_INLINE unsigned gm_gc_kind(const gm_mspan_t *s) { return s->partial_epoch; }

/* GOMALLOC_GC_TEST_NOROOTS (internal): a test turns a root kind off to
 * show that its test fails without it (tests/gc). */
enum {
  GM_GC_NOROOT_DATA = 1,    /* data and bss */
  GM_GC_NOROOT_STACKS = 2,  /* other threads' stacks */
  GM_GC_NOROOT_REGS = 4,    /* other threads' registers */
  GM_GC_NOROOT_EXPLICIT = 8, /* gm_gc_add_roots ranges */
  GM_GC_NOROOT_UNCOLL = 16, /* uncollectable blocks' contents */
  GM_GC_NOROOT_INTERIOR = 32, /* interior pointers keep nothing */
};

/* Mark bits: one word per 64 slots, in a block of their own (gcmark_bits),
 * and one more word that the parallel mark uses (gcmark.c: where the
 * span's mark bytes are this cycle; 0 outside a mark). */
#define GM_GC_MARK_BYTES (GM_MAX_BITMAP_WORDS * 8 + 8)

/* One registered thread. Records are mapped, never malloc'd, and reused. */
typedef struct gm_gc_thread {
  gm_mspan_t *alloc[GM_GC_KINDS][GM_NUM_CLASSES]; /* current span (NULL: none) */
  uintptr_t stack_lo, stack_hi;
  pid_t tid;
  /* Written by the stop handler: sp at the interruption, its registers,
   * and the stop generation it acknowledged; resend: it was inside a busy
   * section and wants the signal again. */
  uintptr_t sp;
  uint64_t regs[32];
  uint32_t acked, resend;
  struct gm_gc_thread *next, *prev;
} gm_gc_thread_t;

extern __thread gm_gc_thread_t *gm_gc_self __attribute__((tls_model("initial-exec")));

typedef struct gm_gc {
  gm_lock_t lock; /* every GC span change; held by the collector for a cycle */
  gm_gc_thread_t *threads;
  size_t nthreads;
  /* Spans not cached by a thread: with free slots, and without. */
  gm_mspan_t *partial[GM_GC_KINDS][GM_NUM_CLASSES];
  gm_mspan_t *full[GM_GC_KINDS][GM_NUM_CLASSES];
  gm_mspan_t *large;
  /* Not yet swept this cycle (gcsweep.c): the spans that were on partial
   * [0] and full [1] at the pause, and the large ones. A span is swept iff
   * its sweepgen equals gm_gc.sweepgen (+2 per cycle, as Go's). */
  gm_mspan_t *unswept[GM_GC_KINDS][GM_NUM_CLASSES][2];
  gm_mspan_t *unswept_large;
  uint32_t sweepgen;
  bool sweep_pending; /* the unswept lists may not be empty */
  size_t nspans, unswept_spans; /* GC spans, and how many are unswept */
  unsigned reclaim_next; /* gm_gc_reclaim_locked's cursor over the classes */
  gm_fixalloc_t markalloc;
  uintptr_t lo, hi; /* bounds of every GC span ever: the scan's first filter */
  /* Pacing (bytes; gc.c): live after the last mark, goal, and the live
   * count since (marked + span space handed to caches + large blocks);
   * heap_bytes: GC spans now, heap_peak: the most a cycle found. */
  size_t heap_marked, heap_goal, heap_live, heap_bytes, heap_peak;
  uint64_t total_alloc; /* bytes handed to caches and large blocks, ever */
  int percent; /* < 0: off */
  /* Statistics. */
  uint64_t cycles, total_pause_ns, max_pause_ns, last_pause_ns, freed_objects;
  uint64_t start_ns;
  /* Stop the world: odd while stopped. */
  uint32_t stw_gen;
  int signo;
} gm_gc_t;
extern gm_gc_t gm_gc;

/* gc.c */
void gm_gc_init(void);
/* Collect if the heap passed its goal (no lock held). */
void gm_gc_maybe_collect(void);
void gm_gc_collect_locked(void);

/* gcalloc.c */
/* Take gm_gc.lock (gm_unlock releases it); see gcalloc.c for TSan. */
void gm_gc_lock(void);
void *gm_gc_alloc(size_t size, unsigned kind);
void gm_gc_free_block(void *p);
void *gm_gc_realloc_block(void *p, size_t size);
size_t gm_gc_block_size(const void *p);
void *gm_gc_base_of(const void *p);
/* Span lists: push s on a list linked through next/prev. */
void gm_gc_list_push(gm_mspan_t **head, gm_mspan_t *s);
void gm_gc_list_remove(gm_mspan_t **head, gm_mspan_t *s);
/* A thread's cached spans back to the central lists (lock held). */
void gm_gc_flush_thread_locked(gm_gc_thread_t *t);
/* Bytes of the free slots of every thread's cached spans (lock held). */
size_t gm_gc_cached_free_locked(void);

/* gcstw.c */
gm_gc_thread_t *gm_gc_thread_register(void);
void gm_gc_thread_unregister(void);
void gm_gc_stw_init(void);
/* Stop every registered thread but the caller (lock held); start them. */
void gm_gc_stop_world(void);
void gm_gc_start_world(void);
void gm_gc_fork_prepare(void);
void gm_gc_fork_parent(void);
void gm_gc_fork_child(void);

/* gcroots.c */
typedef struct gm_gc_range {
  uintptr_t lo, hi;
} gm_gc_range_t;
/* Snapshot the data and bss ranges of every loaded object (before the
 * world stops: dl_iterate_phdr takes the loader's lock). */
void gm_gc_roots_snapshot(void);
/* Scan every root: snapshot, explicit, threads (world stopped). */
void gm_gc_mark_roots(void);
/* Zero the collecting thread's stack below its frame before the
 * collector's frames land there (stale pointers; gcroots.c). */
void gm_gc_clear_stack(void);
void gm_gc_roots_add(uintptr_t lo, uintptr_t hi);
void gm_gc_roots_remove(uintptr_t lo, uintptr_t hi);
size_t gm_gc_roots_bytes(void);

/* gcmark.c: the collector is marker 0; helpers join between mark_begin
 * and mark_end (which returns once no marker holds work). */
#define GM_GC_MAX_MARKERS 8
/* Before the world stops (lock held): start helper markers the first time. */
void gm_gc_mark_prepare(void);
void gm_gc_mark_begin(void);
void gm_gc_scan_range(uintptr_t lo, uintptr_t hi);
/* Mark object at p and push it (uncollectable roots). */
void gm_gc_mark_object(uintptr_t p);
void gm_gc_drain(void);
void gm_gc_mark_end(void);
size_t gm_gc_marked_bytes(void);
void gm_gc_mark_fork_child(void);

/* gcsweep.c (all with gm_gc.lock held) */
/* In the pause, after the mark: a new sweepgen, every listed span unswept,
 * the threads' cached spans swept. */
void gm_gc_sweep_start(void);
/* Sweep everything left of the last cycle (Go's finishsweep_m). */
void gm_gc_sweep_finish_locked(void);
/* Before a span of (kind, cls) is taken from the partial list: if that is
 * empty, sweep the class's unswept spans until one has a free slot. */
void gm_gc_sweep_class_locked(unsigned kind, unsigned cls);
/* Before the heap grows by npages: sweep until that much came back. */
void gm_gc_reclaim_locked(size_t npages);
/* Sweep GC span s (small or large) if it is not yet (a reader's touch);
 * s may be gone (state DEAD) after. gm_gc_sweep_touch takes the lock. */
void gm_gc_sweep_touch_locked(gm_mspan_t *s);
void gm_gc_sweep_touch(gm_mspan_t *s);
/* The background thread (no lock held): sweep until done or deadline
 * (gm_sys_thread_cpu_ns). */
void gm_gc_sweep_background(uint64_t deadline);

GM_INLINE bool gm_gc_unswept(const gm_mspan_t *s) {
  return gm_load_relaxed(&s->sweepgen) != gm_load_relaxed(&gm_gc.sweepgen);
}

/* Is slot idx of GC span s allocated (handed out and not freed)? Only
 * for a swept span: in an unswept one the answer is as of the last sweep
 * (the mark runs after finishing the sweep; readers touch first). */
GM_INLINE bool gm_gc_slot_live(gm_mspan_t *s, size_t idx) {
  size_t w = idx / 64;
  uint64_t bit = 1ULL << (idx % 64);
  if (gm_load_relaxed(gm_span_rfree(s, w)) & bit)
    return false;
  return idx < gm_load_relaxed(&s->freeindex) || (gm_load_relaxed(gm_span_abits(s, w)) & bit);
}

#endif /* GM_GC_H */
