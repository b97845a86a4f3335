/* mallocgc.h: the malloc and free fast paths (named after Go's mallocgc), inline so that both the gm_*
 * entry points (malloc.c) and the libc names (override.c) compile to the
 * whole fast path with no extra call. Everything unusual goes out of line. */
#ifndef GM_MALLOCGC_H
#define GM_MALLOCGC_H

#include "arena.h"
#include "debugheap.h"
#include "mcache.h"
#include "span.h"

/* Largest request we try to satisfy: beyond this the address space cannot
 * hold it anyway, and page arithmetic must not overflow. */
#define GM_MAX_ALLOC ((size_t)1 << (GM_ADDR_BITS - 2))

void *gm_malloc_large(size_t size, size_t align_pages);
void gm_free_slow(void *p, gm_mspan_t *s);
/* The span of live block p, or abort naming op ("free", "realloc", ...). */
gm_mspan_t *gm_live_span(const void *p, const char *op);

GM_INLINE void *gm_malloc_impl(size_t size) {
#if GM_DEBUG
  return gm_dbg_malloc(size, 0);
#endif
  if (GM_LIKELY(size <= GM_MAX_SMALL_SIZE))
    return gm_mcache_alloc_small(size);
  return gm_malloc_large(size, 1);
}

/* Free: span lookup in the arena map, then the object index by divMul, a
 * check that p is the object's base and is allocated, and one bit set in a
 * free bitmap: plainly if this thread owns the span, atomically if not.
 * The slot becomes allocatable again at the span's next sweep. */
GM_INLINE void gm_free_impl(void *p) {
#if GM_DEBUG
  p = gm_dbg_free_prepare(p); /* checks, then frees the raw block below */
#endif
  uintptr_t a = (uintptr_t)p;
  gm_mspan_t *s = gm_span_of(a);
  if (GM_UNLIKELY(s == NULL)) {
    gm_free_slow(p, NULL);
    return;
  }
  /* small_bytes is 0 unless s is an in-use small span, so this also sends
   * large, dead and foreign-range pointers to the slow path. */
  uintptr_t off = a - s->base;
  if (GM_UNLIKELY(off >= gm_load_relaxed(&s->small_bytes))) {
    gm_free_slow(p, s);
    return;
  }
  size_t idx = gm_span_obj_index(s, off);
  if (GM_UNLIKELY(idx * s->elemsize != off)) {
    gm_free_slow(p, s);
    return;
  }
  gm_busy_enter(); /* see mcache.h: a reclaimer may be taking s away */
  if (GM_LIKELY(gm_load_relaxed(&s->owner) == gm_tls_mcache)) {
    uint64_t *wp = gm_span_abits(s, idx / 64); /* alloc, local, remote words */
    uint64_t bit = 1ULL << (idx % 64);
    uint64_t l = wp[1];
    if (GM_UNLIKELY(((l | gm_load_relaxed(&wp[2])) & bit) ||
                    !(idx < s->freeindex || (wp[0] & bit)))) {
      gm_busy_exit();
      gm_free_slow(p, s);
      return;
    }
    gm_store_relaxed(&wp[1], l | bit);
    uint16_t n = (uint16_t)(s->local_nfreed + 1);
    s->local_nfreed = n;
    bool notify = n == s->notify_at; /* read while s is surely ours */
    gm_busy_exit();
    if (GM_UNLIKELY(notify))
      gm_mcache_notify(s); /* a full span of ours became worth a sweep */
    return;
  }
  gm_busy_exit();
  gm_span_free_remote(s, idx, p);
}

#endif
