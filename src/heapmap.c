/* heapmap.c: the heap snapshot and gm_heap_visit (see heapmap.h).
 *
 * Two phases, so that nothing runs under an allocator lock but copying:
 *   1. snapshot: with every central lock and the heap lock held (the lock
 *      order of the census and of fork), copy each in-use span's fields and
 *      bitmaps and each chunk's page bitmaps into memory mapped with
 *      gm_sys_alloc (no malloc, and sized from the heap counters read under
 *      the same locks, so it always fits);
 *   2. visit: with no lock held, hand each copied span and chunk to the
 *      visitor, then unmap the copy.
 * Drawing is not done here: the heap dump (heapdump.c) writes what the
 * visitor sees to a file, and tools/heapmap_render.c draws the page. */
#include "heapmap.h"

#include "arena.h"
#include "mcentral.h"
#include "mheap.h"
#include "options.h"
#include "os.h"
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- snapshot ---------------------------------------------------------------- */

#define CHUNK_WORDS (GM_CHUNK_PAGES / 64)

typedef struct hm_span {
  uintptr_t base;
  size_t npages;
  size_t elemsize;
  uint32_t bits;     /* index of its words in snap.words: used, then pending */
  uint32_t released; /* bytes of free slots released to the OS */
  uint16_t nelems, alloc_count, freeindex, live;
  uint8_t spanclass, state, nwords;
} hm_span_t;

typedef struct hm_chunk {
  uintptr_t base;
  uint64_t alloc[CHUNK_WORDS], scav[CHUNK_WORDS];
} hm_chunk_t;

typedef struct snap {
  hm_span_t *spans;
  size_t nspans, cap_spans;
  hm_chunk_t *chunks;
  size_t nchunks, cap_chunks;
  uint64_t *words;
  size_t nwords, cap_words;
  bool detail; /* one block per span (else per-chunk summaries) */
  void *mem;
  size_t mem_len;
} snap_t;

static void snap_span(gm_mspan_t *s, void *arg) {
  snap_t *sn = arg;
  if (sn->nspans == sn->cap_spans)
    return;
  uint8_t state = gm_load_relaxed(&s->state);
  if (state < GM_SPAN_CACHED || state > GM_SPAN_LARGE)
    return;
  hm_span_t *h = &sn->spans[sn->nspans++];
  h->base = s->base;
  h->npages = s->npages;
  h->elemsize = s->elemsize;
  h->spanclass = s->spanclass;
  h->state = state;
  h->nelems = s->nelems;
  h->alloc_count = gm_load_relaxed(&s->alloc_count);
  h->freeindex = gm_load_relaxed(&s->freeindex);
  h->released = (uint32_t)gm_span_released_bytes(s, gm_sys_page_size());
  h->bits = UINT32_MAX;
  h->nwords = 0;
  if (state == GM_SPAN_LARGE) {
    h->live = 1;
    return;
  }
  bool keep = sn->detail && sn->nwords + 2u * s->nwords <= sn->cap_words;
  unsigned live = 0;
  for (unsigned k = 0; k < s->nwords; k++) {
    uint64_t used, pend;
    gm_stats_span_word(s, k, h->freeindex, &used, &pend);
    live += gm_popcount64(used & ~pend);
    if (keep) {
      sn->words[sn->nwords + k] = used;
      sn->words[sn->nwords + s->nwords + k] = pend;
    }
  }
  h->live = (uint16_t)live;
  if (keep) {
    h->bits = (uint32_t)sn->nwords;
    h->nwords = s->nwords;
    sn->nwords += 2u * s->nwords;
  }
}

static void snap_chunk(uintptr_t base, const uint64_t *alloc, const uint64_t *scav, void *arg) {
  snap_t *sn = arg;
  if (sn->nchunks == sn->cap_chunks)
    return;
  hm_chunk_t *c = &sn->chunks[sn->nchunks++];
  c->base = base;
  memcpy(c->alloc, alloc, sizeof c->alloc);
  memcpy(c->scav, scav, sizeof c->scav);
}

static size_t max_spans(void) { return gm_options.heapmap_max_spans; }

static int take_snapshot(snap_t *sn) {
  memset(sn, 0, sizeof *sn);
  size_t limit = max_spans();
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    gm_init();
  gm_mcentral_lock_all();
  gm_lock(&gm_heap.lock);
  size_t small = gm_heap.small_spans;
  sn->cap_spans = small + gm_heap.large_spans;
  sn->cap_chunks = gm_pagealloc_total_pages(&gm_heap.pages) / GM_CHUNK_PAGES;
  sn->detail = sn->cap_spans <= limit && sn->cap_chunks <= GM_HEAPMAP_MAX_CHUNKS;
  sn->cap_words = sn->detail ? small * 2 * GM_MAX_BITMAP_WORDS : 0;
  size_t len = sn->cap_spans * sizeof(hm_span_t) + sn->cap_chunks * sizeof(hm_chunk_t) +
               sn->cap_words * sizeof(uint64_t) + 64;
  /* mmap takes no allocator lock; the size is exact for this heap state. */
  sn->mem = gm_sys_alloc(len);
  if (sn->mem) {
    sn->mem_len = len;
    sn->spans = sn->mem;
    sn->chunks = (hm_chunk_t *)(sn->spans + sn->cap_spans);
    sn->words = (uint64_t *)(sn->chunks + sn->cap_chunks);
    gm_arena_for_each_span(snap_span, sn);
    gm_pagealloc_for_each_chunk(&gm_heap.pages, snap_chunk, sn);
  }
  gm_unlock(&gm_heap.lock);
  gm_mcentral_unlock_all();
  if (!sn->mem) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

static void drop_snapshot(snap_t *sn) {
  if (sn->mem)
    gm_sys_free(sn->mem, GM_ALIGN_UP(sn->mem_len, gm_sys_page_size()));
  sn->mem = NULL;
}

/* ---- visit ------------------------------------------------------------------------ */

int gm_heap_visit(const struct gm_heap_visitor *v, void *arg) {
  snap_t sn;
  if (take_snapshot(&sn) != 0)
    return -1;
  struct gm_heap_info info = {.detail = sn.detail, .spans = sn.nspans, .chunks = sn.nchunks};
  int rc = v->begin ? v->begin(&info, arg) : 0;
  for (size_t i = 0; rc == 0 && v->span && i < sn.nspans; i++) {
    const hm_span_t *h = &sn.spans[i];
    struct gm_heap_span s = {
        .base = h->base,
        .npages = h->npages,
        .elemsize = h->elemsize,
        .released = h->released,
        .spanclass = h->spanclass,
        .state = h->state,
        .nelems = h->nelems,
        .alloc_count = h->alloc_count,
        .freeindex = h->freeindex,
        .live = h->live,
    };
    if (h->bits != UINT32_MAX) {
      s.nwords = h->nwords;
      s.used = sn.words + h->bits;
      s.pending = sn.words + h->bits + h->nwords;
    }
    rc = v->span(&s, arg);
  }
  for (size_t i = 0; rc == 0 && v->chunk && i < sn.nchunks; i++) {
    struct gm_heap_chunk c = {sn.chunks[i].base, sn.chunks[i].alloc, sn.chunks[i].scav};
    rc = v->chunk(&c, arg);
  }
  drop_snapshot(&sn);
  return rc;
}
