/* span.c: mspan bitmaps, cache refill and sweep. See span.h for the
 * bitmaps, mcentral.c for the state machine and free.c for the frees that
 * set the free bits. Calls only down (error.c): never mcache or mcentral. */
#include "span.h"

#include "error.h"

#include <string.h>

gm_class_counts_t gm_class_counts[GM_NUM_SPAN_CLASSES];

void gm_span_init(gm_mspan_t *s, uintptr_t base, size_t npages, gm_spanclass_t spc) {
  unsigned cls = gm_spanclass_sizeclass(spc);
  /* A remote free that emptied this span's previous life may still be
   * re-reading it (it re-checks under the central lock before acting), so
   * the fields it reads are written atomically. */
  gm_store_relaxed(&s->base, base);
  s->npages = npages;
  gm_store_relaxed(&s->spanclass, spc);
  gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
  s->next = s->prev = NULL;
  s->gcmark_bits = NULL;
  s->sweepgen = 0;
  s->partial_epoch = 0;
  s->released_mask = 0;
  s->alloc_count = 0;
  s->notify_base = s->notify_ctr = GM_NOTIFY_NEVER;
  gm_store_relaxed(&s->cache_list, (uint8_t)GM_CLIST_NONE);
  s->needzero = 0;
#if GM_DEBUG
  /* Before the state is published: a racing free of a stale pointer must
   * not match a block the debug heap has not laid out yet (debugheap.c). */
  gm_store_relaxed(&s->dbg_off, (uint32_t)GM_DBG_OFF_UNSET);
#endif
  if (cls == 0) {
    gm_store_relaxed(&s->elemsize, npages << GM_PAGE_SHIFT);
    gm_store_relaxed(&s->nelems, (uint16_t)1);
    gm_store_relaxed(&s->divmul, 0u);
  } else {
    gm_store_relaxed(&s->elemsize, (size_t)gm_class_to_size[cls]);
    gm_store_relaxed(&s->nelems, gm_class_to_nelems[cls]);
    gm_store_relaxed(&s->divmul, gm_class_to_divmagic[cls]);
  }
  gm_store_relaxed(&s->nwords, (uint8_t)((s->nelems + 63) / 64));
  gm_store_relaxed(&s->small_bytes, cls ? (size_t)s->nelems * s->elemsize : 0);
  /* Slots past nelems are "allocated" forever, so no cache ever offers them. */
  unsigned tail = (unsigned)s->nelems & 63;
  for (unsigned i = 0; i < 3u * s->nwords; i++)
    gm_store_relaxed(&s->bits[i], (uint64_t)0);
  if (tail)
    gm_store_relaxed(gm_span_abits(s, s->nwords - 1u), ~0ULL << tail);
  s->freeindex = 0;
  s->alloc_cache = ~s->bits[0];
}

bool gm_span_refill_cache(gm_mspan_t *s) {
  /* An empty cache means the rest of the word holding freeindex is used up,
   * unless freeindex sits on a word boundary, where that word has not been
   * loaded yet: either way the next word to look at is ceil(freeindex/64). */
  unsigned fi = s->freeindex, w = (fi + 63) / 64;
  uint64_t *a = gm_span_abits(s, 0); /* word w at a[3 * w] */
  /* Every slot of the word the cache leaves (the one holding slot fi - 1)
   * has been handed out: say so in alloc_bits, so that free's check needs
   * freeindex only in the word being handed out (span.h). */
  if (fi)
    gm_store_relaxed(&a[3 * ((fi - 1) / 64)], ~0ULL);
  for (; w < s->nwords; w++) {
    uint64_t inv = ~a[3 * w];
    if (inv) {
      gm_store_relaxed(&s->freeindex, (uint16_t)(w * 64));
      s->alloc_cache = inv;
      return true;
    }
  }
  gm_store_relaxed(&s->freeindex, s->nelems);
  s->alloc_cache = 0;
  return false;
}

/* Another thread's free is waiting in s. */
static bool remote_frees_waiting(gm_mspan_t *s) {
  const uint64_t *r = gm_span_rfree(s, 0);
  for (unsigned w = 0; w < s->nwords; w++)
    if (gm_load_relaxed(&r[3 * w]))
      return true;
  return false;
}

bool gm_span_has_frees(gm_mspan_t *s) {
  return gm_span_local_nfreed(s) || remote_frees_waiting(s);
}

/* The sweep, with popcount by instruction (hw) or in software. */
GM_INLINE unsigned sweep(gm_mspan_t *s, gm_class_counts_t *own, bool hw) {
  uint64_t *a = gm_span_abits(s, 0); /* word w of each at [3 * w] */
  uint64_t *lf = gm_span_lfree(s, 0);
  uint64_t *rf = gm_span_rfree(s, 0);
  unsigned fi = s->freeindex, nw = s->nwords;
  unsigned nalloc = 0, nfreed = 0;
  uint64_t freed = 0;
  for (unsigned w = 0; w < nw; w++) {
    /* Materialise Go's "below freeindex = allocated" into the bitmap. */
    uint64_t m = a[3 * w];
    unsigned lo = w * 64;
    if (fi >= lo + 64)
      m = ~0ULL;
    else if (fi > lo)
      m |= (1ULL << (fi - lo)) - 1;
    uint64_t l = lf[3 * w];
    uint64_t r = gm_load_relaxed(&rf[3 * w]);
    if (r)
      r = gm_exchange_acqrel(&rf[3 * w], 0);
    if (GM_UNLIKELY(l & r))
      gm_fatal_double_free((void *)(s->base + (lo + gm_ctz64(l & r)) * s->elemsize),
                           "freed by its owner thread and by another thread");
    uint64_t f = l | r;
    if (GM_UNLIKELY(f & ~m))
      gm_fatal_double_free((void *)(s->base + (lo + gm_ctz64(f & ~m)) * s->elemsize),
                           "block already free at sweep");
    if (l)
      gm_store_relaxed(&lf[3 * w], 0);
    m &= ~f;
    freed |= f;
    gm_store_relaxed(&a[3 * w], m);
    /* The bits past nelems stay set (span.h) and f lies within m and the
     * slots: count whole words, take the tail off once below, and what
     * was in use is what stays allocated plus what was freed. */
    nalloc += hw ? (unsigned)__builtin_popcountll(m) : gm_popcount64(m);
    if (f)
      nfreed += hw ? (unsigned)__builtin_popcountll(f) : gm_popcount64(f);
  }
  nalloc -= nw * 64u - s->nelems;
  unsigned nused = nalloc + nfreed;
  /* Objects handed out since the last sweep, and frees folded in now. */
  if (own) {
    gm_store_relaxed(&own->nmalloc, own->nmalloc + (nused - s->alloc_count));
    gm_store_relaxed(&own->nfree, own->nfree + nfreed);
  } else {
    if (nused != s->alloc_count)
      gm_fetch_add_relaxed(&gm_class_counts[s->spanclass].nmalloc, nused - s->alloc_count);
    if (nfreed)
      gm_fetch_add_relaxed(&gm_class_counts[s->spanclass].nfree, nfreed);
  }
  s->alloc_count = (uint16_t)nalloc;
  s->notify_ctr = s->notify_base; /* no owner frees since this sweep */
  if (freed)
    s->needzero = 1;
  s->alloc_cache = ~a[0];
  /* Release: a remote free that sees the new freeindex also sees the new
   * alloc_bits, so its "is this slot allocated" check stays exact. */
  gm_store_release(&s->freeindex, 0);
  return (unsigned)s->nelems - nalloc;
}

#if defined(__x86_64__) && !defined(__POPCNT__)
/* The baseline x86-64 target has no popcount instruction, and the software
 * one made a one-word sweep cost about 170 instructions; a span of large
 * objects is swept every few allocations. Every x86-64 CPU since 2008 has
 * the instruction, so a copy compiled for it is used when the CPU says so. */
static unsigned sweep_sw(gm_mspan_t *s, gm_class_counts_t *own) { return sweep(s, own, false); }
__attribute__((target("popcnt"))) static unsigned sweep_hw(gm_mspan_t *s, gm_class_counts_t *own) {
  return sweep(s, own, true);
}
static unsigned (*sweep_fn)(gm_mspan_t *, gm_class_counts_t *);

unsigned gm_span_sweep_counted(gm_mspan_t *s, gm_class_counts_t *own) {
  unsigned (*fn)(gm_mspan_t *, gm_class_counts_t *) = gm_load_relaxed(&sweep_fn);
  if (GM_UNLIKELY(fn == NULL)) {
    __builtin_cpu_init();
    fn = __builtin_cpu_supports("popcnt") ? sweep_hw : sweep_sw;
    gm_store_relaxed(&sweep_fn, fn);
  }
  return fn(s, own);
}
#else
unsigned gm_span_sweep_counted(gm_mspan_t *s, gm_class_counts_t *own) {
  return sweep(s, own, true); /* the builtin is the instruction here */
}
#endif

/* The end of an owner's sweep in place of exhausted span s, its bitmaps
 * folded (nfreed slots freed): the counts, and freeindex back to 0. */
static void sweep_in_place_done(gm_mspan_t *s, gm_class_counts_t *own, unsigned nfreed) {
  gm_store_relaxed(&own->nmalloc, own->nmalloc + ((unsigned)s->nelems - s->alloc_count));
  gm_store_relaxed(&own->nfree, own->nfree + nfreed);
  s->alloc_count = (uint16_t)(s->nelems - nfreed);
  s->notify_ctr = s->notify_base; /* no owner frees since this sweep */
  s->needzero = 1;
  s->alloc_cache = ~gm_span_abits(s, 0)[0];
  /* Release: a free that sees freeindex 0 sees the slots free in
   * alloc_bits. */
  gm_store_release(&s->freeindex, (uint16_t)0);
}

bool gm_span_sweep_local(gm_mspan_t *s, gm_class_counts_t *own) {
  unsigned nw = s->nwords, nfreed = 0;
  if (s->freeindex != s->nelems || gm_span_local_nfreed(s) == 0 || remote_frees_waiting(s))
    return false;
  uint64_t *a = gm_span_abits(s, 0); /* word w of each at [3 * w] */
  /* A remote free that lands from here on sets its bit for the next
   * sweep, as it would after the full sweep's exchange. Its "is the slot
   * allocated" check reads freeindex (acquire) and then alloc_bits: until
   * the release store (sweep_in_place_done) it sees freeindex = nelems,
   * every slot in use, which is true for the slots it may free. */
  for (unsigned w = 0; w < nw; w++) {
    uint64_t l = a[3 * w + 1];
    gm_store_relaxed(&a[3 * w], ~l); /* the tail bits stay set: l has none */
    if (l) {
      gm_store_relaxed(&a[3 * w + 1], (uint64_t)0);
      /* Counted: the owner's count leaves out what its hot stack held. */
      nfreed += gm_popcount64(l);
    }
  }
  sweep_in_place_done(s, own, nfreed);
  /* The first word may have no free slot while later ones do (it had
   * live blocks only): load the cache from the first that has one. */
  if (!s->alloc_cache)
    gm_span_refill_cache(s);
  return true;
}

/* See span.h. Plain loads and stores: the exchange of the full sweep is a
 * locked instruction, which waits for every store the thread has pending,
 * and in a ring of threads freeing each other's blocks that wait was 10%
 * of the samples once the cache lock had gone (wl_rings, perf). There 96%
 * of the spans the owner sweeps are empty (1-8 objects a span, freed by
 * the next thread before the owner comes back for them). */
bool gm_span_sweep_emptied(gm_mspan_t *s, gm_class_counts_t *own) {
  unsigned nw = s->nwords;
  if (s->freeindex != s->nelems)
    return false;
  uint64_t *a = gm_span_abits(s, 0); /* alloc, local, remote of word w at a[3 * w] */
  for (unsigned w = 0; w < nw; w++) {
    uint64_t l = a[3 * w + 1], r = gm_load_relaxed(&a[3 * w + 2]);
    /* A slot in both is a double free: the full sweep reports it. */
    if ((l | r) != gm_span_slot_mask(s, w) || (l & r))
      return false;
  }
  unsigned tail = (unsigned)s->nelems & 63;
  for (unsigned w = 0; w < nw; w++) {
    gm_store_relaxed(&a[3 * w], (w == nw - 1 && tail) ? ~0ULL << tail : (uint64_t)0);
    a[3 * w + 1] = 0;
    gm_store_relaxed(&a[3 * w + 2], (uint64_t)0);
  }
  sweep_in_place_done(s, own, s->nelems);
  return true;
}

bool gm_span_all_freed_remote(gm_mspan_t *s) {
  const uint64_t *a = gm_span_abits(s, 0); /* word w at a[3 * w] */
  const uint64_t *r = gm_span_rfree(s, 0);
  unsigned nw = gm_load_relaxed(&s->nwords);
  /* Acquire pairs with each free's OR: everything the freeing threads did
   * before their frees happens before the span is given back. */
  for (unsigned w = 0; w < nw; w++)
    if (gm_load_acquire(&r[3 * w]) != (gm_load_relaxed(&a[3 * w]) & gm_span_slot_mask(s, w)))
      return false;
  return true;
}

const char *gm_span_check(gm_mspan_t *s) {
  const uint64_t *a = gm_span_abits(s, 0); /* word w at a[3 * w] */
  if (s->nwords != (s->nelems + 63) / 64)
    return "span nwords does not match nelems";
  if (s->freeindex > s->nelems)
    return "span freeindex past nelems";
  if (gm_span_limit(s) > s->base + (s->npages << GM_PAGE_SHIFT))
    return "span objects overrun its pages";
  unsigned tail = (unsigned)s->nelems & 63;
  if (tail && (a[3 * (s->nwords - 1)] & (~0ULL << tail)) != (~0ULL << tail))
    return "span tail bits not set";
  unsigned n = 0;
  for (unsigned w = 0; w < s->nwords; w++)
    n += gm_popcount64(a[3 * w] & gm_span_slot_mask(s, w));
  if (s->freeindex == 0 && n != s->alloc_count && s->state != GM_SPAN_LARGE)
    return "span alloc_count does not match alloc_bits";
  const uint64_t *lf = gm_span_lfree(s, 0);
  for (unsigned w = 0; w < s->nwords; w++)
    if (lf[3 * w] & ~gm_span_slot_mask(s, w))
      return "span free bit past nelems";
  return NULL;
}

#if GM_DEBUG
void gm_span_dbg_fill(gm_mspan_t *s) {
  memset((void *)s->base, GM_DBG_FREE_BYTE, s->npages << GM_PAGE_SHIFT);
}
#endif
