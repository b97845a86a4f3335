/* gcalloc.c: allocation in the collected heap (Go's mallocgc, with an
 * mcache and mcentral of its own; see gc.h for why they are separate).
 *
 * The fast path is malloc's: the thread's current span of the kind and
 * class, the next slot from its allocCache, inside the thread's busy
 * section so that the stop signal never lands between the cache shift and
 * the freeindex store (a slot taken but not yet below freeindex would look
 * free to the mark and be swept under the caller); so does reloading the
 * allocCache from the next word of the same span. Everything else (a span
 * running out, a new span, a large block, a free) runs under gm_gc.lock,
 * which the collector holds for a whole cycle: nothing it sweeps can be
 * half changed. Scanned objects are zeroed when their span's memory may be
 * dirty (needzero, as in Go); noscan objects never are. */
#include "gc.h"

#include "error.h"
#include "gcfinal.h"
#include "mheap.h"
#include "vg.h"

#include <errno.h>
#include <string.h>
#include <time.h>

void gm_gc_list_push(gm_mspan_t **head, gm_mspan_t *s) {
  s->prev = NULL;
  s->next = *head;
  if (*head)
    (*head)->prev = s;
  *head = s;
}

void gm_gc_list_remove(gm_mspan_t **head, gm_mspan_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    *head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

/* The lock, taken by a mutator. ThreadSanitizer delivers a signal only
 * when its thread enters an intercepted call that it counts as blocking,
 * and a mutex wait is not one: a thread waiting here for the collector
 * would never stop, and the collector would wait for it for ever. Under
 * TSan the wait is a loop of trylock and nanosleep (one that counts). */
#if defined(__SANITIZE_THREAD__)
void gm_gc_lock(void) {
  while (pthread_mutex_trylock(&gm_gc.lock.m) != 0) {
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  }
  gm_store_relaxed(&gm_gc.lock.owner, gm_self());
}
#else
void gm_gc_lock(void) { gm_lock(&gm_gc.lock); }
#endif

/* A slot of s (lock held, or the owner inside its busy section). */
static void *take(gm_mspan_t *s) {
  void *p = gm_span_next_free_fast(s);
  if (!p && gm_span_refill_cache(s))
    p = gm_span_next_free_fast(s);
  return p;
}

/* Set up span s just taken from the heap as a GC span of kind (lock held). */
static bool adopt_locked(gm_mspan_t *s, unsigned kind) {
  uint64_t *marks = gm_fixalloc_alloc(&gm_gc.markalloc);
  if (!marks)
    return false;
  memset(marks, 0, GM_GC_MARK_BYTES);
  s->gcmark_bits = marks;
  s->partial_epoch = kind;
  gm_store_relaxed(&s->sweepgen, gm_gc.sweepgen); /* nothing to sweep */
  gm_store_relaxed(&s->small_bytes, (size_t)0); /* plain free's fast path says no */
  uintptr_t end = s->base + (s->npages << GM_PAGE_SHIFT);
  if (!gm_gc.lo || s->base < gm_gc.lo)
    gm_gc.lo = s->base;
  if (end > gm_gc.hi)
    gm_gc.hi = end;
  gm_gc.heap_bytes += s->npages << GM_PAGE_SHIFT;
  gm_gc.nspans++;
  /* Under memcheck (GM_VALGRIND builds) the collected heap is plain
   * defined memory: v1 describes no blocks to it (the mark reads all). */
  GM_VG_DEFINED((void *)s->base, s->npages << GM_PAGE_SHIFT);
  return true;
}

static gm_mspan_t *new_span_locked(unsigned kind, unsigned cls) {
  gm_spanclass_t spc = gm_make_spanclass(cls, kind == GM_GC_NOSCAN);
  gm_gc_reclaim_locked(gm_class_to_allocnpages[cls]); /* unswept garbage first */
  gm_mspan_t *s = gm_mheap_alloc_span(gm_class_to_allocnpages[cls], spc, 1, GM_SPAN_GC, NULL);
  if (!s)
    return NULL;
  if (!adopt_locked(s, kind)) {
    gm_mheap_free_span(s);
    errno = ENOMEM;
    return NULL;
  }
  return s;
}

/* Zero a new scanned block (its span's memory may be dirty). Small blocks
 * inline: a call to memset cost GCBench a fifth of its allocation time. */
GM_INLINE void zero_block(void *p, size_t n) {
  if (n > 256) {
    memset(p, 0, n);
    return;
  }
  uint64_t *q = p, *end = (uint64_t *)((char *)p + n);
  if (n & 8) /* sizes are multiples of 8, not 16: never clear past the block */
    *q++ = 0;
  while (q < end) {
    q[0] = 0;
    q[1] = 0;
    q += 2;
    __asm__("" : "+r"(q)); /* not turned back into a memset call */
  }
}

/* Bytes of s's free slots (lock held, or s's owner): at or after freeindex
 * with no alloc bit. heap_live counts them when a thread takes s and
 * takes back what it leaves unused (flush); alloc_count, as of the last
 * sweep, overstates them for a span a thread left early. */
static size_t free_bytes(gm_mspan_t *s) {
  unsigned fi = gm_load_relaxed(&s->freeindex), n = 0;
  for (unsigned w = fi / 64; w < s->nwords; w++) {
    uint64_t f = ~*gm_span_abits(s, w) & gm_span_slot_mask(s, w);
    if (w == fi / 64)
      f &= ~0ULL << (fi % 64);
    n += gm_popcount64(f);
  }
  return (size_t)n * s->elemsize;
}

size_t gm_gc_cached_free_locked(void) {
  size_t n = 0;
  for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next)
    for (unsigned k = 0; k < GM_GC_KINDS; k++)
      for (unsigned c = 1; c < GM_NUM_CLASSES; c++)
        if (t->alloc[k][c])
          n += free_bytes(t->alloc[k][c]);
  return n;
}

/* heap_live less n, never below 0 (lock held). */
static void unlive(size_t n) {
  gm_store_relaxed(&gm_gc.heap_live, gm_gc.heap_live > n ? gm_gc.heap_live - n : 0);
}

/* The fast path missed: the current span is used up (or there is none).
 * Out of line, so that the fast path saves no registers. */
static GM_NOINLINE void *refill(gm_gc_thread_t *t, unsigned kind, unsigned cls) {
  /* The next word of the thread's own span first: its allocCache holds 64
   * slots, and refilling it is the owner's business like the fast path's
   * (busy section, no lock; heap_live counted the span when it was taken).
   * Taking gm_gc.lock for it was 199k lock pairs on gcthreads-2. */
  gm_mspan_t *s = t->alloc[kind][cls];
  void *p = NULL;
  if (s) {
    gm_busy_enter();
    p = take(s);
    bool zero = p && kind != GM_GC_NOSCAN && s->needzero;
    gm_busy_exit();
    if (p) {
      if (zero)
        zero_block(p, s->elemsize);
      return p;
    }
  }
  gm_gc_maybe_collect();
  gm_gc_lock();
  s = t->alloc[kind][cls];
  if (s && !(p = take(s))) {
    gm_gc_list_push(&gm_gc.full[kind][cls], s);
    t->alloc[kind][cls] = NULL;
  }
  if (!p)
    gm_gc_sweep_class_locked(kind, cls); /* lazy sweep (gcsweep.c) */
  while (!p && (s = gm_gc.partial[kind][cls]) != NULL) {
    gm_gc_list_remove(&gm_gc.partial[kind][cls], s);
    size_t n = free_bytes(s);
    if ((p = take(s)) != NULL) {
      t->alloc[kind][cls] = s;
      gm_store_relaxed(&gm_gc.heap_live, gm_gc.heap_live + n);
      gm_gc.total_alloc += n;
    } else {
      gm_gc_list_push(&gm_gc.full[kind][cls], s);
    }
  }
  if (!p) {
    s = new_span_locked(kind, cls);
    if (!s) {
      gm_gc_collect_locked(); /* the heap refused: collect, then once more */
      s = new_span_locked(kind, cls);
    }
    if (s) {
      t->alloc[kind][cls] = s;
      gm_store_relaxed(&gm_gc.heap_live, gm_gc.heap_live + (size_t)s->nelems * s->elemsize);
      gm_gc.total_alloc += (size_t)s->nelems * s->elemsize;
      p = take(s);
    }
  }
  bool zero = p && kind != GM_GC_NOSCAN && s->needzero;
  size_t n = p ? s->elemsize : 0;
  gm_unlock(&gm_gc.lock);
  gm_mheap_after_alloc();
  if (zero)
    zero_block(p, n);
  if (!p)
    errno = ENOMEM;
  return p;
}

static GM_NOINLINE void *alloc_large(size_t size, unsigned kind) {
  if (size > ((size_t)1 << 40)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t npages = (size + GM_PAGE_MASK) >> GM_PAGE_SHIFT;
  gm_gc_maybe_collect();
  gm_gc_lock();
  gm_spanclass_t spc = gm_make_spanclass(0, kind == GM_GC_NOSCAN);
  gm_gc_reclaim_locked(npages);
  gm_mspan_t *s = gm_mheap_alloc_span(npages, spc, 1, GM_SPAN_GC_LARGE, NULL);
  if (!s) {
    gm_gc_collect_locked();
    gm_gc_reclaim_locked(npages);
    s = gm_mheap_alloc_span(npages, spc, 1, GM_SPAN_GC_LARGE, NULL);
  }
  if (s && !adopt_locked(s, kind)) {
    gm_mheap_free_span(s);
    s = NULL;
  }
  /* The block's address, not only its span's, must be in this thread's
   * registers or stack from here on: a collection between the unlock and
   * the return (this thread preempted in the unlock's futex wake, say)
   * finds the new block through it, or frees it (parmark caught that). */
  void *p = NULL;
  bool zero = false;
  size_t n = 0;
  if (s) {
    gm_gc_list_push(&gm_gc.large, s);
    gm_store_relaxed(&gm_gc.heap_live, gm_gc.heap_live + s->elemsize);
    gm_gc.total_alloc += s->elemsize;
    p = (void *)s->base;
    zero = kind != GM_GC_NOSCAN && s->needzero;
    n = s->elemsize;
  }
  gm_unlock(&gm_gc.lock);
  gm_mheap_after_alloc();
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  if (zero)
    memset(p, 0, n);
  __asm__ volatile("" : : "r"(p) : "memory"); /* p stays live until here */
  return p;
}

void *gm_gc_alloc(size_t size, unsigned kind) {
  gm_gc_thread_t *t = gm_gc_self;
  if (GM_UNLIKELY(t == NULL))
    t = gm_gc_thread_register();
  if (size > GM_MAX_SMALL_SIZE)
    return alloc_large(size, kind);
  unsigned cls = gm_size_to_class(size);
  gm_busy_enter(); /* not a safe point: see above */
  gm_mspan_t *s = t->alloc[kind][cls];
  void *p = s ? gm_span_next_free_fast(s) : NULL;
  bool zero = p && kind != GM_GC_NOSCAN && s->needzero;
  gm_busy_exit();
  if (GM_UNLIKELY(!p))
    return refill(t, kind, cls);
  if (zero)
    zero_block(p, s->elemsize);
  return p;
}

/* The slots t leaves unused were counted in heap_live when it took the
 * span (or at the last cycle, gc.c), and are counted again by the next
 * taker: out of heap_live now, as Go's mcache.releaseAll does. (Not out of
 * total_alloc, which counts what was handed out and never goes down.) */
void gm_gc_flush_thread_locked(gm_gc_thread_t *t) {
  for (unsigned k = 0; k < GM_GC_KINDS; k++)
    for (unsigned c = 0; c < GM_NUM_CLASSES; c++) {
      gm_mspan_t *s = t->alloc[k][c];
      if (s) {
        unlive(free_bytes(s));
        gm_gc_list_push(&gm_gc.partial[k][c], s); /* refill moves it on if used up */
        t->alloc[k][c] = NULL;
      }
    }
}

/* ---- free, realloc, size -------------------------------------------------- */

/* The GC span of live block p, its slot in *idx; abort naming op if p is
 * not the start of a live collected block. An unswept span is swept first
 * (under the lock: the caller holds it if locked). */
static gm_mspan_t *live_block(const void *p, const char *op, size_t *idx, bool locked) {
  uintptr_t a = (uintptr_t)p;
  gm_mspan_t *s = gm_span_of(a);
  uint8_t st = s ? gm_load_relaxed(&s->state) : 0;
  if ((st == GM_SPAN_GC || st == GM_SPAN_GC_LARGE) && gm_gc_unswept(s)) {
    if (locked)
      gm_gc_sweep_touch_locked(s);
    else
      gm_gc_sweep_touch(s);
    st = gm_load_relaxed(&s->state);
  }
  if (st == GM_SPAN_GC_LARGE && a == s->base) {
    *idx = 0;
    return s;
  }
  if (st == GM_SPAN_GC && a >= s->base && a < gm_span_limit(s)) {
    uintptr_t off = a - s->base;
    size_t i = gm_span_obj_index(s, off);
    if (i * s->elemsize == off) {
      if (!gm_gc_slot_live(s, i))
        gm_fatal_double_free(p, "collected block already free");
      *idx = i;
      return s;
    }
  }
  gm_fatal(op, p, st == GM_SPAN_GC || st == GM_SPAN_GC_LARGE ? "interior pointer"
                                                               : "not a garbage-collected block");
  return NULL;
}

void gm_gc_free_block(void *p) {
  size_t idx;
  gm_gc_lock(); /* no cycle sweeps it meanwhile */
  gm_mspan_t *s = live_block(p, "invalid gm_gc_free", &idx, true);
  gm_gc_final_forget_locked((uintptr_t)p, s->elemsize, s->state == GM_SPAN_GC_LARGE);
  if (s->state == GM_SPAN_GC_LARGE) {
    gm_gc_list_remove(&gm_gc.large, s);
    unlive(s->elemsize); /* counted when allocated or marked; gone now */
    gm_gc.heap_bytes -= s->npages << GM_PAGE_SHIFT;
    gm_gc.nspans--;
    gm_fixalloc_free(&gm_gc.markalloc, s->gcmark_bits);
    s->gcmark_bits = NULL;
    /* Out of the mark's sight before the lock goes (the heap takes the
     * span back after, under its own lock). */
    gm_store_release(&s->state, (uint8_t)GM_SPAN_DEAD);
    gm_unlock(&gm_gc.lock);
    gm_mheap_free_span(s);
    return;
  }
  /* The slot is reused after the next sweep (alloc = mark & ~freed). */
  gm_fetch_or_seqcst(gm_span_rfree(s, idx / 64), 1ULL << (idx % 64));
  gm_unlock(&gm_gc.lock);
}

size_t gm_gc_block_size(const void *p) {
  size_t idx;
  return live_block(p, "invalid gm_gc_size", &idx, false)->elemsize;
}

void *gm_gc_realloc_block(void *p, size_t size) {
  size_t idx;
  gm_mspan_t *s = live_block(p, "invalid gm_gc_realloc", &idx, false);
  size_t old = s->elemsize;
  unsigned kind = gm_gc_kind(s);
  if (size <= old && (s->state == GM_SPAN_GC || size > old / 2))
    return p; /* fits in place (a large block stays at least half used) */
  void *q = gm_gc_alloc(size, kind);
  if (!q)
    return NULL;
  memcpy(q, p, old < size ? old : size);
  gm_gc_free_block(p);
  return q;
}

void *gm_gc_base_of(const void *p) {
  uintptr_t a = (uintptr_t)p;
  void *base = NULL;
  gm_gc_lock(); /* the span cannot be swept or freed meanwhile */
  gm_mspan_t *s = gm_span_of(a);
  if (s)
    gm_gc_sweep_touch_locked(s); /* its bits are the truth once swept */
  uint8_t st = s ? gm_load_relaxed(&s->state) : 0;
  if (st == GM_SPAN_GC_LARGE && a - s->base < s->elemsize) {
    base = (void *)s->base;
  } else if (st == GM_SPAN_GC && a >= s->base && a < gm_span_limit(s)) {
    size_t i = gm_span_obj_index(s, a - s->base);
    if (gm_gc_slot_live(s, i))
      base = (void *)(s->base + i * s->elemsize);
  }
  gm_unlock(&gm_gc.lock);
  return base;
}
