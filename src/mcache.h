/* mcache.h: the per-thread cache (Go's mcache, per thread instead of per P)
 * and the small-object malloc/free fast paths.
 *
 * Each thread has one current span per span class. malloc takes the next
 * free slot from that span's allocCache: no lock, no atomic
 * read-modify-write. A thread's mcache pointer lives in initial-exec TLS and
 * starts at a static empty mcache whose spans are all "exhausted", so the
 * fast path needs no "is this thread set up" test: a thread's first malloc
 * falls into the slow path, which sets it up. */
#ifndef GM_MCACHE_H
#define GM_MCACHE_H

#include "arena.h"
#include "internal.h"
#include "sizeclass.h"
#include "span.h"

/* Hot slots (see mcache_hot.c): per span class, a LIFO stack of slots the
 * owner freed, which its next malloc of the class hands out again. An
 * entry is a span and a slot index (two words: packing them in one cost
 * three instructions more per free and malloc). A class's stack is a
 * block of GM_HOT_SLOTS entries, aligned to its size: entry 0 names
 * gm_empty_span, which no cache owns (the bottom: malloc's one owner test
 * of the top entry's span also finds the stack empty), and a push whose
 * new top is block-aligned finds the stack full. Until the cache takes its
 * first span of the class the top is GM_HOT_NONE, empty and full alike
 * (mcache_hot.c: stacks are set up class by class). */
typedef struct gm_hot_slot {
  gm_mspan_t *span;
  void *p;        /* the block */
  uint64_t *word; /* the bitmap word group holding its bits (gm_span_abits) */
  size_t idx;     /* its slot index */
} gm_hot_slot_t;
#define GM_HOT_SLOTS 16
#define GM_HOT_BYTES (GM_HOT_SLOTS * (size_t)sizeof(gm_hot_slot_t))
#define GM_HOT_CAP (GM_HOT_SLOTS - 1)
/* The stacks of a cache that has them (gm_mcache_t's last member). */
#define GM_HOT_ALL_BYTES (GM_NUM_SPAN_CLASSES * GM_HOT_BYTES)

typedef struct gm_mcache {
  /* Each class's hot stack: its top entry, or its bottom word when empty
   * (owner only). First: the fast paths load and store it at one address,
   * which the compiler builds in a register unless the offset is 0 (one
   * instruction in malloc and in free). */
  gm_hot_slot_t *hot_top[GM_NUM_SPAN_CLASSES];
  gm_mspan_t *alloc[GM_NUM_SPAN_CLASSES]; /* current span per span class */
  uint64_t hot_pops[GM_NUM_SPAN_CLASSES]; /* slots each stack handed out */
  /* Exhausted spans this cache still owns (state CACHED, owner = this
   * cache), per class, linked through span next/prev: full ones, and ready
   * ones, which have enough frees waiting to be worth a sweep. Frees into
   * them stay plain owner writes. See mcache.c. */
  gm_mspan_t *full[GM_NUM_SPAN_CLASSES];
  gm_mspan_t *ready[GM_NUM_SPAN_CLASSES];
  gm_mspan_t *full_tail[GM_NUM_SPAN_CLASSES]; /* oldest full span */
  uint32_t nfull[GM_NUM_SPAN_CLASSES];         /* full spans listed */
  /* Bumped (atomically) by other threads' frees into this cache's spans;
   * the owner's view of it, to know when its full lists are worth a look. */
  uint32_t remote_hint[GM_NUM_SPAN_CLASSES];
  uint32_t remote_seen[GM_NUM_SPAN_CLASSES];
  uint32_t nempty; /* ready spans that became empty since the last release */
  /* Statistics kept by the owner with plain stores (one writer), summed
   * by gm_mcache_sum_counts: objects handed out and freed as its sweeps
   * fold them in, and the request sizes its slow path samples. Shared
   * counters here made two threads' slow paths fight over cache lines. */
  gm_class_counts_t counts[GM_NUM_SPAN_CLASSES];
  uint64_t sample_n[GM_NUM_CLASSES], sample_bytes[GM_NUM_CLASSES];
  struct gm_mcache *next, *prev; /* all mcaches (registry lock) */
  /* Reclaim from idle threads (mcache_reclaim.c): the owner's gm_tls_busy,
   * a lock its slow paths take (the owner's flag and a taker's, see
   * mcache_internal.h), its count of slow paths, and the reclaimer's view
   * of that count. */
  uint8_t *busy;
  uint8_t lock;
  uint8_t taker; /* a trimmer or reclaimer wants or holds the lock */
  uint8_t trimming; /* the trimmer holds lock and waits for busy */
  uint8_t gave_up;  /* the last trimmer gave up waiting for busy */
  struct gm_mcache *trim_next; /* the trimmer's list of caches it holds */
  /* The spans a trimmer took, by where they were (GM_CLIST_NONE: current),
   * linked through next, until it hands them on or puts them back. */
  gm_mspan_t *trim_taken[3];
  uint32_t trim_epoch;         /* scavenger epoch of the owner's last trim */
  uint32_t nslow;
  uint32_t seen_nslow, idle_rounds;
  /* A spare: an exited thread's cache waiting for a new thread
   * (mcache_registry.c); the spare list's link, and when it was parked
   * (the reclaimer's round count). */
  struct gm_mcache *spare_next;
  uint32_t spare_round;
  /* A reclaimer or trimmer took spans the hot stacks may name: the
   * owner's next slow path empties them (cache lock). */
  uint8_t hot_stale;
  uint8_t hot_on; /* has stacks (else every top is GM_HOT_NONE) */
  /* Each class's hot_pops at the last refill that could grow the heap:
   * a class not popped since gives its entries up (mcache_hot.c,
   * gm_mcache_hot_drop_idle). Any start value will do. */
  uint64_t hot_seen[GM_NUM_SPAN_CLASSES];
  /* The hot stacks, last: a class's words are touched only once used. */
  /* A flexible member: the static empty and orphan caches, which have no
   * stacks, leave it out (with it they were 81 KiB each of .data, most of
   * it resident through fault-around: +0.2 MiB for every process). */
  gm_hot_slot_t hot[][GM_HOT_SLOTS] GM_ALIGNED(GM_HOT_BYTES);
} gm_mcache_t;

/* The thread's fast-path state in one initial-exec TLS object: in a shared
 * library each TLS variable costs a GOT load of its offset, so the mcache
 * pointer and the busy count share one (one load serves both paths).
 *   mcache  the calling thread's cache (&gm_empty_mcache until its first
 *           malloc)
 *   busy    fast paths this thread is inside (nested by signal
 *           handlers), see gm_busy_enter */
typedef struct gm_tls {
  struct gm_mcache *mcache;
  uint8_t busy;
} gm_tls_t;
extern __thread gm_tls_t gm_tls __attribute__((tls_model("initial-exec")));
#define gm_tls_mcache (gm_tls.mcache)
#define gm_tls_busy (gm_tls.busy)

/* Not 0 while this thread is inside a fast path that touches its mcache or
 * its spans without a lock. A reclaimer that has detached the cache waits
 * (a bounded time) for it to reach 0; a process-wide membarrier on the
 * reclaimer's side stands in for the store-load fence the owner would
 * otherwise need here. A count, not a flag: a signal handler that mallocs
 * (undefined, but common) may interrupt a fast path, and its own fast path
 * must leave the count where it found it, not at 0 while the interrupted
 * one still holds a span. Only the owner writes it, so one instruction
 * (addb / subb on the TLS byte, which a signal cannot split) costs what a
 * plain store did. Elsewhere a load and a store: a handler that returns
 * restores the count, so a split increment is still right. */
GM_INLINE void gm_busy_enter(void) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("addb $1, %0" : "+m"(gm_tls_busy) : : "cc", "memory");
#else
  gm_store_relaxed(&gm_tls_busy, (uint8_t)(gm_load_relaxed(&gm_tls_busy) + 1));
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}
GM_INLINE void gm_busy_exit(void) {
#if defined(__x86_64__) || defined(__i386__)
  /* "memory": the section's accesses stay before it, as a release store's */
  __asm__ volatile("subb $1, %0" : "+m"(gm_tls_busy) : : "cc", "memory");
#else
  gm_store_release(&gm_tls_busy, (uint8_t)(gm_load_relaxed(&gm_tls_busy) - 1));
#endif
}

extern gm_mcache_t gm_empty_mcache;
extern gm_mspan_t gm_empty_span;

/* Slow path of small malloc: refill the span of this class (sweep it in
 * place, or trade it with mcentral), setting up the thread on first use.
 * size is the request (the class is recomputed after set-up). */
void *gm_mcache_alloc_slow(size_t size);

/* The fast path's miss: s, the current span of size's class, has an empty
 * allocCache. Called inside the busy section and leaves it. Handles what
 * touches s alone without the cache lock (mcache.c), else the slow path. */
void *gm_mcache_alloc_miss(gm_mspan_t *s, size_t size);

/* Go's nextFreeFast from the current span of class spc, else the miss
 * path. Inside the busy section, which it leaves. */
GM_INLINE void *gm_mcache_alloc_span(gm_mcache_t *c, size_t spc, size_t size) {
  /* relaxed: a reclaimer may swap in the empty span (a plain mov; as an
   * asm operand, so the compiler folds the array's offset into it, which
   * it does not for the atomic load: one instruction). */
#if defined(__x86_64__)
  gm_mspan_t *s;
  __asm__("movq %1, %0" : "=r"(s) : "m"(c->alloc[spc]));
#else
  gm_mspan_t *s = gm_load_relaxed(&c->alloc[spc]);
#endif
  uint64_t cache = s->alloc_cache;
  if (GM_LIKELY(cache != 0)) {
    void *p = gm_span_take(s, cache);
    gm_busy_exit();
    return p;
  }
  return gm_mcache_alloc_miss(s, size);
}

/* The hot stack's top entry names a span this cache no longer owns (a
 * reclaimer or trimmer took it): drop such entries, then allocate from
 * the span. Inside the busy section, which it leaves. */
void *gm_mcache_alloc_stale(size_t size);

/* One more slot handed out from class spc's hot stack: a counter the
 * owner alone writes and stats read. One instruction, where a relaxed
 * load and store are three (and a memory operand cost two more, the
 * compiler building its address by hand). */
GM_INLINE void gm_mcache_count_pop(gm_mcache_t *c, size_t spc) {
#if defined(__x86_64__)
  __asm__ volatile("addq $1, %c[off](%[c],%[i],8)"
                   :
                   : [c] "r"(c), [i] "r"(spc), [off] "i"(offsetof(gm_mcache_t, hot_pops))
                   : "cc", "memory");
#else
  gm_store_relaxed(&c->hot_pops[spc], c->hot_pops[spc] + 1);
#endif
}

/* The small-object malloc fast path (Go's mallocgc small path +
 * nextFreeFast), after the hot stack: the slot this thread freed last in
 * the class, if any, and if its span is still ours (see mcache_hot.c). */
GM_INLINE void *gm_mcache_alloc_small(size_t size) {
  size_t spc = gm_size_to_spanclass(size); /* wide: an index, not extended */
  gm_mcache_t *c = gm_tls_mcache;
  gm_busy_enter();
  gm_hot_slot_t *t = c->hot_top[spc];
  gm_mspan_t *s = t->span;
  /* One test for "not empty and ours": the bottom entry names
   * gm_empty_span, which no cache owns. */
  if (GM_LIKELY(gm_span_owned_by(s, c))) {
    void *p = t->p;
    uint64_t *wp = t->word;
    size_t idx = t->idx;
    c->hot_top[spc] = t - 1;
    gm_mcache_count_pop(c, spc);
    gm_span_hot_take(wp, idx);
    gm_busy_exit();
    return p;
  }
  if (GM_UNLIKELY(s != &gm_empty_span))
    return gm_mcache_alloc_stale(size);
  return gm_mcache_alloc_span(c, spc, size);
}

/* calloc's small path: the current span, never a hot slot. Popping does
 * not mark the span dirty (a hot slot always is), so needzero stays true
 * only of slots the span hands out: fresh ones, zero unless it is set,
 * and swept ones, which set it. */
GM_INLINE void *gm_mcache_alloc_small_span(size_t size) {
  size_t spc = gm_size_to_spanclass(size);
  gm_mcache_t *c = gm_tls_mcache;
  gm_busy_enter();
  return gm_mcache_alloc_span(c, spc, size);
}

/* The owner's free of slot idx of s, its local_free bit just set: push it
 * on the class's hot stack. False if the stack is full. */
GM_INLINE bool gm_mcache_hot_push(gm_mcache_t *c, gm_mspan_t *s, void *p, uint64_t *wp,
                                   size_t idx) {
  gm_hot_slot_t **tp = &c->hot_top[s->spanclass];
  gm_hot_slot_t *t = *tp + 1;
  if (GM_UNLIKELY(((uintptr_t)t & (GM_HOT_BYTES - 1)) == 0))
    return false;
  t->span = s;
  t->p = p;
  t->word = wp;
  t->idx = idx;
  *tp = t;
  return true;
}

/* Owner's free brought s->notify_ctr to 0: move s from its cache's full
 * list to the ready list, or count a ready span that became empty. Called
 * inside the free's busy section, which it leaves first: the fast path then
 * tests the flags of its decrement (subw; je) instead of a reload. */
void gm_mcache_notify(gm_mspan_t *s);

/* Another thread freed into a span cache c owns (free.c). */
GM_INLINE void gm_mcache_remote_hint(gm_mcache_t *c, gm_spanclass_t spc) {
  gm_fetch_add_relaxed(&c->remote_hint[spc], 1u);
}

/* Hand the full and ready spans that every other cache has kept listed
 * for min_age scavenger ticks or more (all of them if 0) back to mcentral.
 * Returns the number of spans handed back. */
size_t gm_mcache_trim(uint32_t min_age);

/* Before failing for want of memory: hand back what all caches keep. */
void gm_mcache_oom_release(void);

/* Return every cached span to mcentral (Go's releaseAll). Owner only. */
void gm_mcache_release_all(gm_mcache_t *c);

/* Take back the spans of caches whose threads have not allocated since the
 * last two calls (all caches but the caller's if force), without stopping
 * or signalling them. Returns the number of caches emptied. */
unsigned gm_mcache_reclaim_idle(bool force);

/* Thread exit (pthread key destructor, init.c): the cache becomes a spare
 * for the next new thread, or is flushed (mcache_registry.c). */
void gm_mcache_thread_exit(void *arg);

/* Flush and free the spare caches parked two or more calls ago (every one
 * if all); the idle-cache reclaim calls it each round. */
void gm_mcache_flush_spares(bool all);
/* Spare caches waiting for a thread. */
size_t gm_mcache_spare_count(void);

/* Add every cache's counters, and those of exited threads, to the arrays
 * (indexed by span class, and by size class for the samples).
 * lock_below, if not NULL, runs first with the registry and orphan locks
 * held, to take the locks below them (stats: the central and heap locks,
 * which it keeps): the counters are then read while no central sweep can
 * move frees from the spans into them (gm_class_counts). */
void gm_mcache_sum_counts(uint64_t *nmalloc, uint64_t *nfree, uint64_t *sample_n,
                          uint64_t *sample_bytes, void (*lock_below)(void));

/* Walk all live mcaches (for stats); fn runs under the registry lock. */
void gm_mcache_for_each(void (*fn)(gm_mcache_t *c, void *arg), void *arg);
size_t gm_mcache_count(void);

/* Fork hooks (scheme in mcentral.h); _fork_child also gives back the
 * spans of the threads that do not exist in the child. */
void gm_mcache_fork_prepare(void);
void gm_mcache_fork_parent(void);
void gm_mcache_fork_child(void);

#endif
