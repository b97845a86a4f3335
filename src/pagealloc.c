/* pagealloc.c: the page allocator, after Go's mpagealloc.go.
 *
 * The heap is a set of 8 KiB pages. Each 4 MiB chunk (512 pages) has two
 * 512-bit bitmaps: alloc (1 = in use) and scav (1 = free and released to the
 * OS). Allocation is address-ordered first fit, and the whole job of the rest
 * of the structure is to make "find the lowest run of n free pages" a descent
 * instead of a scan. For that every aligned power-of-8 group of chunks has a
 * summary: free pages at its low end (start), the longest free run inside it
 * (max) and free pages at its high end (end). A parent's summary follows from
 * its 8 children's alone (start extends across fully free children, max is
 * the best of the children's max and each end+start junction, end mirrors
 * start), so the summaries form a radix tree: to find n pages, scan the 8
 * children of a node left to right carrying the free run that reaches the
 * current child; if that run plus the child's start is n or more the answer
 * straddles children and is known right there, else if the child's max is n
 * or more descend into it, else the carried run becomes the child's end.
 * The first child that can hold the run is the lowest one, so the descent
 * yields the address-ordered first fit; at the bottom the chunk bitmap is
 * searched with ctz and a shift-and run test. Freeing clears bits and
 * recomputes summaries upward, stopping at the first level that did not
 * change; adjacent free runs coalesce by construction, since free space is
 * just zero bits. A search address, below which every page is known to be in
 * use, lets most small allocations skip the tree and go straight to a chunk.
 *
 * Where this diverges from Go, and why:
 *
 * - No up-front reservation. Go reserves ~585 MiB of address space for flat
 *   per-level summary arrays and commits pieces as the heap grows; we must
 *   live under ulimit -v 256 MiB. The tree here has 9 levels with fan-out 8
 *   over the whole 48-bit space (level 0: 4 nodes of 64 TiB; level 8: one
 *   node per chunk) instead of Go's 5 levels under a 16384-entry root, and it
 *   is stored sparsely: levels 0-2 (292 nodes, ~7 KiB) sit in gm_pagealloc_t
 *   (9 KiB in all); a "super" (one per 1 TiB in use, 12 KiB mapped) holds
 *   levels 3-5 and the pointers to its blocks; a "block" (one per 2 GiB in
 *   use, 72 KiB mapped) holds levels 6-8 and the bitmaps of its 512 chunks.
 *   Supers and blocks are mapped with gm_sys_alloc the first time grow
 *   touches their range and never freed (the heap never gives address space
 *   back). That is 36 KiB of metadata per GiB of heap, 84 KiB mapped for the
 *   first chunk in a new place (a few pages of it resident), and nothing
 *   mapped before the first grow. Absent storage reads as an all-zero
 *   summary ("nothing free"), so ungrown space needs no special case.
 * - The extra levels make a descent at most 9 x 8 summaries wherever the
 *   heap lives, where Go scans its root linearly from the search address.
 *   The price is up to 8 parent refreshes per bitmap change instead of 4;
 *   each is one cache line of children, and they stop at the first level
 *   that does not change.
 * - Summaries of levels 5-8 (at most 2^18 pages) are packed three 21-bit
 *   fields to a word like Go's pallocSum; levels 0-4 cover up to 2^33 pages
 *   and are kept unpacked. They are few, so the width costs nothing that
 *   matters, and Go's "all fields = 2^21" special encoding is not needed.
 * - Grown-ness is a bit per chunk in its block: bitmaps of ungrown chunks stay
 *   zero (never written, so never resident) and their summaries stay zero.
 * - The scavenge index is a three-tier "may hold free unscavenged pages"
 *   bitmap (chunk / block / super), set by free and cleared by the scavenger
 *   when a chunk turns out to have nothing left, so finding the highest
 *   candidate is a few clz's. Go keeps per-chunk occupancy and generations
 *   to skip dense chunks; here each chunk keeps the caller's clock of its
 *   last alloc or free (a stamp), and gm_pagealloc_scavenge_cold skips the
 *   recently used ones; when to ask for which is the scavenger's policy.
 *   Release runs are merged across words and chunks, and are issued with
 *   the heap lock held (Go drops it around sysUnused).
 * - Release runs are in runtime pages. Go rounds candidates to physical
 *   pages; on a 64 KiB-page kernel gm_sys_unused would silently skip short
 *   runs here (their bits still say scavenged). Fine for 4 KiB pages.
 * - No per-P page cache (Go's allocToCache) in here; the mheap can build one.
 * - Address 0 cannot be grown: alloc returns 0 for "no run".
 * - free checks that every page was in use and dies otherwise: a double free
 *   of pages would silently corrupt first fit, which is much worse.
 */
#include "pagealloc.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "os.h"
#include "pallocbits.h"

#define PA_LEAF (GM_PA_LEVELS - 1) /* level 8: one node per chunk */
#define PA_NONE (~(uint64_t)0)
#define CHUNK_LOG_PAGES 9 /* log2(GM_CHUNK_PAGES) */
#define PAGES_LIMIT ((uint64_t)1 << (GM_ADDR_BITS - GM_PAGE_SHIFT))
/* For the per-level helpers: inlined with a constant level, their switch on
 * the level folds away. */
#define PA_INLINE static inline __attribute__((always_inline))

/* Chunk index c = addr >> 22 has 26 bits: super (8) | block (9) | chunk (9). */
#define BLOCK_CHUNKS 512
#define SUPER_BLOCKS 512

_Static_assert(GM_CHUNK_PAGES == 1 << CHUNK_LOG_PAGES, "chunk geometry");
_Static_assert(GM_CHUNK_SHIFT + 26 == GM_ADDR_BITS, "address split");
_Static_assert(GM_PA_SUPERS *SUPER_BLOCKS *BLOCK_CHUNKS == (size_t)1 << 26, "tree split");

typedef struct pa_chunk {
  uint64_t alloc[GM_PB_WORDS];
  uint64_t scav[GM_PB_WORDS];
} pa_chunk_t;

typedef struct pa_block {
  uint64_t l6[8], l7[64], l8[BLOCK_CHUNKS]; /* packed summaries */
  uint64_t grown[BLOCK_CHUNKS / 64];
  uint64_t scav_dirty[BLOCK_CHUNKS / 64];
  uint32_t stamp[BLOCK_CHUNKS]; /* pa->clock at the chunk's last alloc or free */
  pa_chunk_t chunk[BLOCK_CHUNKS];
} pa_block_t;

struct gm_pa_super {
  gm_pa_sum_t l3[8], l4[64];
  uint64_t l5[SUPER_BLOCKS]; /* packed; one per block */
  uint64_t scav_dirty[SUPER_BLOCKS / 64];
  pa_block_t *block[SUPER_BLOCKS];
};

/* ---- summaries ------------------------------------------------------------ */

/* Packed form of levels 5-8, whose nodes hold at most 2^18 pages. */
#define SUM_BITS 21
#define SUM_MASK (((uint64_t)1 << SUM_BITS) - 1)
#define SUM_ZERO ((gm_pa_sum_t){0, 0, 0})

static inline uint64_t sum_pack(gm_pa_sum_t s) {
  return s.start | s.max << SUM_BITS | s.end << (2 * SUM_BITS);
}

static inline gm_pa_sum_t sum_unpack(uint64_t p) {
  return (gm_pa_sum_t){p & SUM_MASK, (p >> SUM_BITS) & SUM_MASK, p >> (2 * SUM_BITS)};
}

static inline bool sum_eq(gm_pa_sum_t a, gm_pa_sum_t b) {
  return a.start == b.start && a.max == b.max && a.end == b.end;
}

/* Level l node index = chunk index >> level_shift(l); log2 pages per node. */
static inline unsigned level_shift(unsigned l) { return 3 * (PA_LEAF - l); }
static inline unsigned level_log_pages(unsigned l) { return CHUNK_LOG_PAGES + level_shift(l); }
static inline bool level_wide(unsigned l) { return l <= 4; }

static const uint64_t chunk_full_sum = GM_CHUNK_PAGES | (uint64_t)GM_CHUNK_PAGES << SUM_BITS |
                                       (uint64_t)GM_CHUNK_PAGES << (2 * SUM_BITS);

static inline pa_block_t *block_of(const gm_pagealloc_t *pa, size_t bi) {
  struct gm_pa_super *sb = pa->super[bi / SUPER_BLOCKS];
  return sb ? sb->block[bi % SUPER_BLOCKS] : NULL;
}

static inline bool block_grown(const pa_block_t *blk, size_t c) {
  return blk->grown[c / 64] >> (c % 64) & 1;
}

/* Where summary i of level l lives, or NULL if its storage was never mapped
 * (it then reads as zero). The 8 children of one node always share storage,
 * so a caller may index up to 8 entries from an aligned first child. */
PA_INLINE void *level_slot(const gm_pagealloc_t *cpa, unsigned l, size_t i) {
  gm_pagealloc_t *pa = (gm_pagealloc_t *)cpa; /* one lookup for reads and writes */
  struct gm_pa_super *sb;
  pa_block_t *blk;
  switch (l) {
  case 0:
    return &pa->l0[i];
  case 1:
    return &pa->l1[i];
  case 2:
    return &pa->l2[i];
  case 3:
    sb = pa->super[i >> 3];
    return sb ? &sb->l3[i & 7] : NULL;
  case 4:
    sb = pa->super[i >> 6];
    return sb ? &sb->l4[i & 63] : NULL;
  case 5:
    sb = pa->super[i >> 9];
    return sb ? &sb->l5[i & 511] : NULL;
  case 6:
    blk = block_of(pa, i >> 3);
    return blk ? &blk->l6[i & 7] : NULL;
  case 7:
    blk = block_of(pa, i >> 6);
    return blk ? &blk->l7[i & 63] : NULL;
  default:
    blk = block_of(pa, i >> 9);
    return blk ? &blk->l8[i & 511] : NULL;
  }
}

static inline void read_sums(const gm_pagealloc_t *pa, unsigned l, size_t first, unsigned n,
                             gm_pa_sum_t *out) {
  const void *p = level_slot(pa, l, first);
  for (unsigned k = 0; k < n; k++) {
    if (!p)
      out[k] = SUM_ZERO;
    else if (level_wide(l))
      out[k] = ((const gm_pa_sum_t *)p)[k];
    else
      out[k] = sum_unpack(((const uint64_t *)p)[k]);
  }
}

/* One step of merging children left to right into a parent summary: start
 * grows while every child so far is entirely free, run is the free run
 * reaching the right edge so far (it ends up as the parent's end). Written
 * with selects rather than branches: which children are full is data. */
typedef struct merge_state {
  uint64_t start, max, run;
  bool prefix;
} merge_state_t;

static inline void merge_step(merge_state_t *m, gm_pa_sum_t s, uint64_t kid_pages) {
  bool full = s.start == kid_pages;
  m->start += m->prefix ? s.start : 0;
  m->prefix = m->prefix && full;
  uint64_t joined = m->run + s.start;
  uint64_t best = s.max > joined ? s.max : joined;
  m->max = best > m->max ? best : m->max;
  m->run = full ? m->run + kid_pages : s.end;
}

/* A parent's summary from its n children of kid_pages pages each. */
static gm_pa_sum_t merge(const gm_pa_sum_t *kid, unsigned n, uint64_t kid_pages) {
  merge_state_t m = {0, 0, 0, true};
  for (unsigned k = 0; k < n; k++)
    merge_step(&m, kid[k], kid_pages);
  return (gm_pa_sum_t){m.start, m.max, m.run};
}

/* Recompute node i of level l (< PA_LEAF) from its 8 children, which exist
 * because the node covers grown chunks. Returns whether it changed. */
PA_INLINE bool refresh(gm_pagealloc_t *pa, unsigned l, size_t i) {
  uint64_t kid_pages = (uint64_t)1 << level_log_pages(l + 1);
  const void *kids = level_slot(pa, l + 1, i * 8);
  merge_state_t m = {0, 0, 0, true};
  if (level_wide(l + 1)) {
    const gm_pa_sum_t *k = kids;
    for (unsigned j = 0; j < 8; j++)
      merge_step(&m, k[j], kid_pages);
  } else {
    const uint64_t *k = kids;
    for (unsigned j = 0; j < 8; j++)
      merge_step(&m, sum_unpack(k[j]), kid_pages);
  }
  gm_pa_sum_t s = {m.start, m.max, m.run};
  void *slot = level_slot(pa, l, i);
  if (level_wide(l)) {
    gm_pa_sum_t *w = slot;
    if (sum_eq(*w, s))
      return false;
    *w = s;
  } else {
    uint64_t *w = slot, v = sum_pack(s);
    if (*w == v)
      return false;
    *w = v;
  }
  return true;
}

/* Refresh the level-l nodes over chunks sc..ec; true if any changed. */
PA_INLINE bool refresh_level(gm_pagealloc_t *pa, unsigned l, size_t sc, size_t ec) {
  bool changed = false;
  for (size_t i = sc >> level_shift(l); i <= ec >> level_shift(l); i++)
    changed |= refresh(pa, l, i);
  return changed;
}

/* Recompute summaries after the bitmaps of pages [pg, pg+n) changed. Chunks
 * wholly inside the range became all in use (alloc) or all free. Walks up
 * level by level and stops at the first level where nothing changed. */
static void update(gm_pagealloc_t *pa, uint64_t pg, uint64_t n, bool alloc) {
  size_t sc = pg >> CHUNK_LOG_PAGES, ec = (pg + n - 1) >> CHUNK_LOG_PAGES;
  if (sc == ec) {
    pa_block_t *blk = block_of(pa, sc / BLOCK_CHUNKS);
    uint64_t s = sum_pack(gm_pb_summarize(blk->chunk[sc % BLOCK_CHUNKS].alloc));
    if (blk->l8[sc % BLOCK_CHUNKS] == s)
      return;
    blk->l8[sc % BLOCK_CHUNKS] = s;
  } else {
    for (size_t c = sc; c <= ec; c++) {
      pa_block_t *blk = block_of(pa, c / BLOCK_CHUNKS);
      uint64_t s;
      if (c == sc || c == ec)
        s = sum_pack(gm_pb_summarize(blk->chunk[c % BLOCK_CHUNKS].alloc));
      else
        s = alloc ? 0 : chunk_full_sum;
      blk->l8[c % BLOCK_CHUNKS] = s;
    }
  }
  /* Unrolled so that each level's storage and width are constants. */
  (void)(refresh_level(pa, 7, sc, ec) && refresh_level(pa, 6, sc, ec) &&
         refresh_level(pa, 5, sc, ec) && refresh_level(pa, 4, sc, ec) &&
         refresh_level(pa, 3, sc, ec) && refresh_level(pa, 2, sc, ec) &&
         refresh_level(pa, 1, sc, ec) && refresh_level(pa, 0, sc, ec));
}

/* ---- finding -------------------------------------------------------------- */

/* Address-ordered first fit of npages by descending the tree from the search
 * address (Go's pageAlloc.find). Returns the first page number or PA_NONE.
 * *first_free receives a lower bound for the first free page at or after the
 * search address: the base of the first non-empty node seen, refined for as
 * long as the descent stays inside that node. */
static uint64_t find(const gm_pagealloc_t *pa, uint64_t npages, uint64_t *first_free) {
  uint64_t spg = pa->search_addr >> GM_PAGE_SHIFT;
  uint64_t ff = spg;
  bool refining = true;
  size_t node = 0; /* the node whose children are scanned at level l */
  for (unsigned l = 0; l <= PA_LEAF; l++) {
    unsigned n = l == 0 ? GM_PA_L0_ENTRIES : 8;
    size_t first = l == 0 ? 0 : node * 8;
    unsigned lp = level_log_pages(l);
    uint64_t size = (uint64_t)1 << lp;
    gm_pa_sum_t kids[8];
    read_sums(pa, l, first, n, kids);
    /* On the search address's path start at its child: all before is in use. */
    size_t si = spg >> lp;
    unsigned j = si >= first && si < first + n ? (unsigned)(si - first) : 0;
    uint64_t run = 0, run_base = 0;
    bool seen = false, descend = false;
    for (; j < n; j++) {
      gm_pa_sum_t s = kids[j];
      uint64_t base = (uint64_t)(first + j) << lp;
      if (s.max == 0) {
        run = 0;
        continue;
      }
      if (refining) {
        if (!seen) {
          seen = true;
          if (base > ff)
            ff = base;
        } else {
          refining = false;
        }
      }
      if (run + s.start >= npages) {
        *first_free = ff;
        return run ? run_base : base;
      }
      if (s.max >= npages) {
        node = first + j;
        descend = true;
        break;
      }
      if (s.start == size) {
        if (run == 0)
          run_base = base;
        run += size;
      } else {
        run = s.end;
        run_base = base + size - s.end;
      }
    }
    if (!descend) {
      if (l == 0)
        return PA_NONE;
      gm_fatal("pagealloc: summary promises a run its children lack",
               (void *)((uintptr_t)node << (level_log_pages(l - 1) + GM_PAGE_SHIFT)),
               "corrupt page allocator");
    }
  }
  /* node is now a chunk whose max covers npages (so npages <= 512). */
  pa_block_t *blk = block_of(pa, node / BLOCK_CHUNKS);
  unsigned from = spg >> CHUNK_LOG_PAGES == node ? (unsigned)(spg % GM_CHUNK_PAGES) : 0;
  unsigned cff;
  unsigned i = gm_pb_find(blk->chunk[node % BLOCK_CHUNKS].alloc, (unsigned)npages, from, &cff);
  if (i == GM_PB_NONE)
    gm_fatal("pagealloc: chunk summary promises a run the bitmap lacks",
             (void *)(node << GM_CHUNK_SHIFT), "corrupt page allocator");
  uint64_t cbase = (uint64_t)node << CHUNK_LOG_PAGES;
  if (refining && cbase + cff > ff)
    ff = cbase + cff;
  *first_free = ff;
  return cbase + i;
}

/* Highest fit: the run of npages placed as high as possible, i.e. at the top
 * of the highest free run that can hold it (the mirror of find, used for
 * huge blocks, see mheap.c). Scans children right to left carrying the free
 * run that starts at the left edge of the children already passed; if a
 * child's end plus that run is npages or more, the run's top is known and
 * nothing higher fits, else if the child's max is enough descend into it
 * (any fit there ends below its top, so the carry restarts at zero), else
 * the carry becomes the child's start (or grows by the whole child). */
static uint64_t find_high(const gm_pagealloc_t *pa, uint64_t npages) {
  size_t node = 0;
  for (unsigned l = 0; l <= PA_LEAF; l++) {
    unsigned n = l == 0 ? GM_PA_L0_ENTRIES : 8;
    size_t first = l == 0 ? 0 : node * 8;
    unsigned lp = level_log_pages(l);
    uint64_t size = (uint64_t)1 << lp;
    gm_pa_sum_t kids[8];
    read_sums(pa, l, first, n, kids);
    uint64_t run = 0;
    bool descend = false;
    for (unsigned j = n; j-- > 0;) {
      gm_pa_sum_t s = kids[j];
      uint64_t top = (uint64_t)(first + j + 1) << lp; /* first page past child j */
      if (s.end + run >= npages)
        return top + run - npages;
      if (s.max >= npages) {
        node = first + j;
        descend = true;
        break;
      }
      run = s.start == size ? run + size : s.start;
    }
    if (!descend) {
      if (l == 0)
        return PA_NONE;
      gm_fatal("pagealloc: summary promises a run its children lack",
               (void *)((uintptr_t)node << (level_log_pages(l - 1) + GM_PAGE_SHIFT)),
               "corrupt page allocator");
    }
  }
  /* node is a chunk whose max covers npages but whose end does not: scan
   * its bitmap down from the top for the first run that is long enough. */
  const uint64_t *b = block_of(pa, node / BLOCK_CHUNKS)->chunk[node % BLOCK_CHUNKS].alloc;
  uint64_t run = 0;
  for (unsigned i = GM_CHUNK_PAGES; i-- > 0;) {
    run = b[i / 64] >> (i % 64) & 1 ? 0 : run + 1;
    if (run == npages)
      return ((uint64_t)node << CHUNK_LOG_PAGES) + i;
  }
  gm_fatal("pagealloc: chunk summary promises a run the bitmap lacks",
           (void *)(node << GM_CHUNK_SHIFT), "corrupt page allocator");
}

/* ---- allocating and freeing --------------------------------------------------- */

/* Is [base, base + npages pages) a page-aligned range below 2^48? */
static bool range_ok(uintptr_t base, size_t npages) {
  if ((base & GM_PAGE_MASK) || npages == 0)
    return false;
  uint64_t pg = base >> GM_PAGE_SHIFT;
  return pg < PAGES_LIMIT && npages <= PAGES_LIMIT - pg;
}

/* Mark [pg, pg+n) in use (all of it grown and free); returns scavenged count. */
static size_t alloc_range(gm_pagealloc_t *pa, uint64_t pg, uint64_t n) {
  size_t scav = 0;
  for (uint64_t p = pg, left = n; left;) {
    size_t ci = p >> CHUNK_LOG_PAGES;
    unsigned i = (unsigned)(p % GM_CHUNK_PAGES);
    unsigned k = GM_CHUNK_PAGES - i < left ? GM_CHUNK_PAGES - i : (unsigned)left;
    pa_block_t *blk = block_of(pa, ci / BLOCK_CHUNKS);
    pa_chunk_t *ch = &blk->chunk[ci % BLOCK_CHUNKS];
    blk->stamp[ci % BLOCK_CHUNKS] = pa->clock;
    scav += gm_pb_alloc_range(ch->alloc, ch->scav, i, k);
    p += k;
    left -= k;
  }
  update(pa, pg, n, true);
  /* Relaxed stores: see gm_pagealloc_free_pages. */
  __atomic_store_n(&pa->free_pages, pa->free_pages - n, __ATOMIC_RELAXED);
  pa->scav_pages -= scav;
  return scav;
}

uintptr_t gm_pagealloc_alloc(gm_pagealloc_t *pa, size_t npages, size_t *scav) {
  if (scav)
    *scav = 0;
  if (npages == 0 || npages > pa->free_pages || pa->search_addr >= pa->end)
    return 0;
  uint64_t spg = pa->search_addr >> GM_PAGE_SHIFT, pg, ff;
  unsigned from = (unsigned)(spg % GM_CHUNK_PAGES);
  /* Fast path: the run fits in what is left of the search address's chunk. */
  pa_block_t *blk;
  size_t ci = spg >> CHUNK_LOG_PAGES;
  if (npages <= GM_CHUNK_PAGES - from && (blk = block_of(pa, ci / BLOCK_CHUNKS)) &&
      sum_unpack(blk->l8[ci % BLOCK_CHUNKS]).max >= npages) {
    unsigned cff;
    unsigned i = gm_pb_find(blk->chunk[ci % BLOCK_CHUNKS].alloc, (unsigned)npages, from, &cff);
    if (i == GM_PB_NONE)
      gm_fatal("pagealloc: chunk summary promises a run the bitmap lacks",
               (void *)(ci << GM_CHUNK_SHIFT), "corrupt page allocator");
    pg = (ci << CHUNK_LOG_PAGES) + i;
    ff = (ci << CHUNK_LOG_PAGES) + cff;
  } else {
    pg = find(pa, npages, &ff);
    if (pg == PA_NONE)
      return 0;
  }
  size_t s = alloc_range(pa, pg, npages);
  if (scav)
    *scav = s;
  /* If the run starts at the first free page, all of it is in use now. */
  if (ff == pg)
    ff = pg + npages;
  if (ff << GM_PAGE_SHIFT > pa->search_addr)
    pa->search_addr = ff << GM_PAGE_SHIFT;
  return pg << GM_PAGE_SHIFT;
}

uintptr_t gm_pagealloc_alloc_high(gm_pagealloc_t *pa, size_t npages, size_t *scav) {
  if (scav)
    *scav = 0;
  if (npages == 0 || npages > pa->free_pages)
    return 0;
  uint64_t pg = find_high(pa, npages);
  if (pg == PA_NONE)
    return 0;
  /* The search address stays valid: allocating never frees anything below it. */
  size_t s = alloc_range(pa, pg, npages);
  if (scav)
    *scav = s;
  return pg << GM_PAGE_SHIFT;
}

bool gm_pagealloc_alloc_at(gm_pagealloc_t *pa, uintptr_t base, size_t npages, size_t *scav) {
  if (scav)
    *scav = 0;
  if (!range_ok(base, npages) || npages > pa->free_pages)
    return false;
  uint64_t pg = base >> GM_PAGE_SHIFT;
  for (uint64_t p = pg, left = npages; left;) {
    size_t ci = p >> CHUNK_LOG_PAGES;
    unsigned i = (unsigned)(p % GM_CHUNK_PAGES);
    unsigned k = GM_CHUNK_PAGES - i < left ? GM_CHUNK_PAGES - i : (unsigned)left;
    const pa_block_t *blk = block_of(pa, ci / BLOCK_CHUNKS);
    if (!blk || !block_grown(blk, ci % BLOCK_CHUNKS) ||
        !gm_pb_range_is(blk->chunk[ci % BLOCK_CHUNKS].alloc, i, k, false))
      return false;
    p += k;
    left -= k;
  }
  /* The search address stays valid: allocating never frees anything below it. */
  size_t s = alloc_range(pa, pg, npages);
  if (scav)
    *scav = s;
  return true;
}

/* Note that chunk ci (in blk) may now hold free, unscavenged pages. */
static inline void mark_dirty(gm_pagealloc_t *pa, pa_block_t *blk, size_t ci) {
  size_t bi = ci / BLOCK_CHUNKS, si = bi / SUPER_BLOCKS;
  blk->scav_dirty[ci % BLOCK_CHUNKS / 64] |= 1ull << (ci % 64);
  pa->super[si]->scav_dirty[bi % SUPER_BLOCKS / 64] |= 1ull << (bi % 64);
  pa->scav_dirty[si / 64] |= 1ull << (si % 64);
}

void gm_pagealloc_free(gm_pagealloc_t *pa, uintptr_t base, size_t npages) {
  if (!range_ok(base, npages))
    gm_fatal("pagealloc: free of a bad page range", (void *)base,
             "not page aligned or out of range");
  uint64_t pg = base >> GM_PAGE_SHIFT;
  for (uint64_t p = pg, left = npages; left;) {
    size_t ci = p >> CHUNK_LOG_PAGES;
    unsigned i = (unsigned)(p % GM_CHUNK_PAGES);
    unsigned k = GM_CHUNK_PAGES - i < left ? GM_CHUNK_PAGES - i : (unsigned)left;
    pa_block_t *blk = block_of(pa, ci / BLOCK_CHUNKS);
    if (!blk || !gm_pb_range_is(blk->chunk[ci % BLOCK_CHUNKS].alloc, i, k, true))
      gm_fatal("pagealloc: free of pages not in use", (void *)(p << GM_PAGE_SHIFT),
               "double free or foreign range");
    gm_pb_clear_range(blk->chunk[ci % BLOCK_CHUNKS].alloc, i, k);
    blk->stamp[ci % BLOCK_CHUNKS] = pa->clock;
    mark_dirty(pa, blk, ci);
    p += k;
    left -= k;
  }
  update(pa, pg, npages, false);
  __atomic_store_n(&pa->free_pages, pa->free_pages + npages, __ATOMIC_RELAXED);
  if (base < pa->search_addr)
    pa->search_addr = base;
}

/* ---- growing ------------------------------------------------------------------- */

static void *meta_alloc(gm_pagealloc_t *pa, size_t n) {
  void *p = gm_sys_alloc(n);
  if (p) {
    size_t ps = gm_sys_page_size();
    pa->meta_bytes += (n + ps - 1) & ~(ps - 1);
  }
  return p;
}

/* Map the super and block covering block index bi if they are missing. An
 * empty super or block reads exactly like missing storage, so a failure
 * part way leaves the allocator logically unchanged. */
static bool ensure_block(gm_pagealloc_t *pa, size_t bi) {
  struct gm_pa_super *sb = pa->super[bi / SUPER_BLOCKS];
  if (!sb) {
    sb = meta_alloc(pa, sizeof *sb);
    if (!sb)
      return false;
    pa->super[bi / SUPER_BLOCKS] = sb;
  }
  if (!sb->block[bi % SUPER_BLOCKS]) {
    pa_block_t *blk = meta_alloc(pa, sizeof *blk);
    if (!blk)
      return false;
    sb->block[bi % SUPER_BLOCKS] = blk;
  }
  return true;
}

bool gm_pagealloc_init(gm_pagealloc_t *pa) {
  memset(pa, 0, sizeof *pa);
  return true;
}

bool gm_pagealloc_grow(gm_pagealloc_t *pa, uintptr_t base, size_t npages) {
  /* Base 0 is refused: alloc could not tell its first page from failure. */
  if (base == 0 || (base & (GM_CHUNK_BYTES - 1)) || npages % GM_CHUNK_PAGES ||
      !range_ok(base, npages)) {
    errno = EINVAL;
    return false;
  }
  size_t sc = base >> GM_CHUNK_SHIFT, ec = sc + npages / GM_CHUNK_PAGES - 1;
  for (size_t c = sc; c <= ec; c++) {
    const pa_block_t *blk = block_of(pa, c / BLOCK_CHUNKS);
    if (blk && block_grown(blk, c % BLOCK_CHUNKS))
      gm_fatal("pagealloc: grow of a range already grown", (void *)(c << GM_CHUNK_SHIFT),
               "overlapping heap growth");
  }
  for (size_t bi = sc / BLOCK_CHUNKS; bi <= ec / BLOCK_CHUNKS; bi++) {
    if (!ensure_block(pa, bi)) {
      errno = ENOMEM;
      return false;
    }
  }
  for (size_t c = sc; c <= ec; c++) {
    pa_block_t *blk = block_of(pa, c / BLOCK_CHUNKS);
    size_t k = c % BLOCK_CHUNKS;
    blk->grown[k / 64] |= 1ull << (k % 64);
    memset(blk->chunk[k].scav, 0xff, sizeof blk->chunk[k].scav); /* fresh: not resident */
  }
  update(pa, base >> GM_PAGE_SHIFT, npages, false);
  pa->total_pages += npages;
  __atomic_store_n(&pa->free_pages, pa->free_pages + npages, __ATOMIC_RELAXED);
  pa->scav_pages += npages;
  if (base < pa->search_addr)
    pa->search_addr = base;
  uintptr_t limit = base + npages * GM_PAGE_SIZE;
  if (limit > pa->end)
    pa->end = limit;
  return true;
}

/* ---- scavenging ------------------------------------------------------------------ */

/* The highest set bit of bits[0, nwords) below index lim, or GM_PB_NONE. */
static unsigned highest_bit_below(const uint64_t *bits, unsigned nwords, uint64_t lim) {
  if (lim > (uint64_t)nwords * 64)
    lim = (uint64_t)nwords * 64;
  if (lim == 0)
    return GM_PB_NONE;
  unsigned w = (unsigned)((lim - 1) / 64);
  uint64_t m = bits[w] & (~0ull >> (63 - (lim - 1) % 64));
  for (;;) {
    if (m)
      return w * 64 + 63 - (unsigned)__builtin_clzll(m);
    if (w-- == 0)
      return GM_PB_NONE;
    m = bits[w];
  }
}

static bool any_bit(const uint64_t *bits, unsigned nwords) {
  for (unsigned w = 0; w < nwords; w++)
    if (bits[w])
      return true;
  return false;
}

/* The highest chunk (global index) below lim that may hold free,
 * unscavenged pages, or PA_NONE: down the three tiers of the index. */
static uint64_t prev_dirty_chunk(const gm_pagealloc_t *pa, uint64_t lim) {
  while (lim) {
    uint64_t x = lim - 1; /* the highest chunk still allowed */
    unsigned s = highest_bit_below(pa->scav_dirty, GM_PA_SUPERS / 64, (x >> 18) + 1);
    if (s == GM_PB_NONE)
      return PA_NONE;
    if (s != x >> 18)
      x = (uint64_t)s << 18 | 0x3ffff;
    const struct gm_pa_super *sb = pa->super[s];
    unsigned b = highest_bit_below(sb->scav_dirty, SUPER_BLOCKS / 64, ((x >> 9) & 511) + 1);
    if (b == GM_PB_NONE) {
      lim = (uint64_t)s << 18;
      continue;
    }
    if (b != ((x >> 9) & 511))
      x = (uint64_t)s << 18 | (uint64_t)b << 9 | 511;
    unsigned c = highest_bit_below(sb->block[b]->scav_dirty, BLOCK_CHUNKS / 64, (x & 511) + 1);
    if (c != GM_PB_NONE)
      return (uint64_t)s << 18 | (uint64_t)b << 9 | c;
    lim = (uint64_t)s << 18 | (uint64_t)b << 9;
  }
  return PA_NONE;
}

/* Chunk c of block b of super s has nothing left to scavenge: clear its
 * index bit and any tier above that became empty. */
static void clean_chunk(gm_pagealloc_t *pa, unsigned s, unsigned b, unsigned c) {
  struct gm_pa_super *sb = pa->super[s];
  pa_block_t *blk = sb->block[b];
  blk->scav_dirty[c / 64] &= ~(1ull << (c % 64));
  if (any_bit(blk->scav_dirty, BLOCK_CHUNKS / 64))
    return;
  sb->scav_dirty[b / 64] &= ~(1ull << (b % 64));
  if (any_bit(sb->scav_dirty, SUPER_BLOCKS / 64))
    return;
  pa->scav_dirty[s / 64] &= ~(1ull << (s % 64));
}

/* Both scavenge calls: chunks from *lim (a chunk index, exclusive) down,
 * skipping those stamped less than min_age ticks ago (0: none skipped). */
static size_t scavenge(gm_pagealloc_t *pa, size_t bytes, uint32_t min_age, uint64_t *lim,
                       void (*release)(uintptr_t base, size_t len)) {
  uint64_t want = bytes / GM_PAGE_SIZE + (bytes % GM_PAGE_SIZE != 0), done = 0;
  uint64_t plo = 0, phi = 0; /* pending release [plo, phi) in pages, merged downward */
  while (done < want) {
    uint64_t ci = prev_dirty_chunk(pa, *lim);
    if (ci == PA_NONE) {
      *lim = 0;
      break;
    }
    unsigned s = (unsigned)(ci >> 18), b = (unsigned)(ci >> 9) & 511, c = (unsigned)ci & 511;
    pa_block_t *blk = pa->super[s]->block[b];
    *lim = ci; /* below this chunk next, unless it keeps candidates */
    if (min_age && (uint32_t)(pa->clock - blk->stamp[c]) < min_age)
      continue;
    pa_chunk_t *ch = &blk->chunk[c];
    uint64_t cpg = ci << CHUNK_LOG_PAGES;
    for (unsigned w = GM_PB_WORDS; w-- > 0 && done < want;) {
      uint64_t cand = ~ch->alloc[w] & ~ch->scav[w];
      while (cand && done < want) {
        /* The highest run of candidates in this word, taken from its top. */
        unsigned hi = 63 - (unsigned)__builtin_clzll(cand);
        uint64_t gaps = ~cand & ((1ull << hi) - 1);
        unsigned lo = gaps ? 64 - (unsigned)__builtin_clzll(gaps) : 0;
        uint64_t len = hi + 1 - lo;
        if (len > want - done) {
          len = want - done;
          lo = hi + 1 - (unsigned)len;
        }
        uint64_t m = gm_pb_mask(lo, (unsigned)len);
        ch->scav[w] |= m;
        cand &= ~m;
        done += len;
        pa->scav_pages += len;
        uint64_t rlo = cpg + w * 64 + lo, rhi = rlo + len;
        if (rhi == plo && phi > plo) {
          plo = rlo;
        } else {
          if (phi > plo && release)
            release(plo << GM_PAGE_SHIFT, (phi - plo) << GM_PAGE_SHIFT);
          plo = rlo;
          phi = rhi;
        }
      }
    }
    bool left = false;
    for (unsigned w = 0; w < GM_PB_WORDS; w++)
      left |= (~ch->alloc[w] & ~ch->scav[w]) != 0;
    if (!left)
      clean_chunk(pa, s, b, c);
    else
      *lim = ci + 1;
  }
  if (phi > plo && release)
    release(plo << GM_PAGE_SHIFT, (phi - plo) << GM_PAGE_SHIFT);
  return done * GM_PAGE_SIZE;
}

size_t gm_pagealloc_scavenge(gm_pagealloc_t *pa, size_t bytes,
                             void (*release)(uintptr_t base, size_t len)) {
  uint64_t lim = (uint64_t)1 << 26;
  return scavenge(pa, bytes, 0, &lim, release);
}

size_t gm_pagealloc_scavenge_cold(gm_pagealloc_t *pa, size_t bytes, uint32_t min_age,
                                  uintptr_t *below, void (*release)(uintptr_t base, size_t len)) {
  uint64_t lim = (uint64_t)(*below >> GM_CHUNK_SHIFT) + (*below & (GM_CHUNK_BYTES - 1) ? 1 : 0);
  if (lim > (uint64_t)1 << 26)
    lim = (uint64_t)1 << 26;
  size_t n = scavenge(pa, bytes, min_age, &lim, release);
  *below = (uintptr_t)(lim << GM_CHUNK_SHIFT);
  return n;
}

/* ---- queries ------------------------------------------------------------------------ */

size_t gm_pagealloc_total_pages(const gm_pagealloc_t *pa) { return pa->total_pages; }
size_t gm_pagealloc_free_pages(const gm_pagealloc_t *pa) {
  return __atomic_load_n(&pa->free_pages, __ATOMIC_RELAXED);
}
size_t gm_pagealloc_scavenged_pages(const gm_pagealloc_t *pa) { return pa->scav_pages; }

static const pa_chunk_t *grown_chunk(const gm_pagealloc_t *pa, uintptr_t addr) {
  if (addr >> GM_ADDR_BITS)
    return NULL;
  size_t ci = addr >> GM_CHUNK_SHIFT;
  const pa_block_t *blk = block_of(pa, ci / BLOCK_CHUNKS);
  if (!blk || !block_grown(blk, ci % BLOCK_CHUNKS))
    return NULL;
  return &blk->chunk[ci % BLOCK_CHUNKS];
}

bool gm_pagealloc_is_free(const gm_pagealloc_t *pa, uintptr_t addr) {
  const pa_chunk_t *ch = grown_chunk(pa, addr);
  unsigned i = (unsigned)((addr >> GM_PAGE_SHIFT) % GM_CHUNK_PAGES);
  return ch && !(ch->alloc[i / 64] >> (i % 64) & 1);
}

bool gm_pagealloc_is_scavenged(const gm_pagealloc_t *pa, uintptr_t addr) {
  const pa_chunk_t *ch = grown_chunk(pa, addr);
  unsigned i = (unsigned)((addr >> GM_PAGE_SHIFT) % GM_CHUNK_PAGES);
  return ch && (ch->scav[i / 64] >> (i % 64) & 1);
}

void gm_pagealloc_for_each_chunk(const gm_pagealloc_t *pa,
                                 void (*fn)(uintptr_t base, const uint64_t *alloc,
                                            const uint64_t *scav, void *arg),
                                 void *arg) {
  for (size_t s = 0; s < GM_PA_SUPERS; s++) {
    const struct gm_pa_super *sb = pa->super[s];
    for (size_t b = 0; sb && b < SUPER_BLOCKS; b++) {
      const pa_block_t *blk = sb->block[b];
      for (size_t c = 0; blk && c < BLOCK_CHUNKS; c++) {
        if (!block_grown(blk, c))
          continue;
        size_t ci = (s * SUPER_BLOCKS + b) * BLOCK_CHUNKS + c;
        fn((uintptr_t)ci << GM_CHUNK_SHIFT, blk->chunk[c].alloc, blk->chunk[c].scav, arg);
      }
    }
  }
}

/* ---- consistency check ------------------------------------------------------------- */

/* Nodes [first, first+n) of level l (< PA_LEAF) equal the merge of their children. */
static bool nodes_ok(const gm_pagealloc_t *pa, unsigned l, size_t first, size_t n) {
  uint64_t kid_pages = (uint64_t)1 << level_log_pages(l + 1);
  for (size_t i = first; i < first + n; i++) {
    gm_pa_sum_t kids[8], have;
    read_sums(pa, l + 1, i * 8, 8, kids);
    read_sums(pa, l, i, 1, &have);
    if (!sum_eq(have, merge(kids, 8, kid_pages)))
      return false;
  }
  return true;
}

static const char *check_chunk(const gm_pagealloc_t *pa, size_t s, size_t b, size_t c,
                               size_t *nfree, size_t *nscav) {
  const struct gm_pa_super *sb = pa->super[s];
  const pa_block_t *blk = sb->block[b];
  const pa_chunk_t *ch = &blk->chunk[c];
  size_t ci = (s * SUPER_BLOCKS + b) * BLOCK_CHUNKS + c;
  if (!block_grown(blk, c)) {
    if (blk->l8[c] != 0)
      return "pagealloc: ungrown chunk has a non-zero summary";
    for (unsigned w = 0; w < GM_PB_WORDS; w++)
      if (ch->alloc[w] | ch->scav[w])
        return "pagealloc: ungrown chunk has bits set";
    return NULL;
  }
  bool cand = false;
  for (unsigned w = 0; w < GM_PB_WORDS; w++) {
    if (ch->alloc[w] & ch->scav[w])
      return "pagealloc: scavenged bit on an in-use page";
    *nfree += (size_t)__builtin_popcountll(~ch->alloc[w]);
    *nscav += (size_t)__builtin_popcountll(ch->scav[w]);
    cand |= (~ch->alloc[w] & ~ch->scav[w]) != 0;
  }
  if (sum_pack(gm_pb_summarize(ch->alloc)) != blk->l8[c])
    return "pagealloc: chunk summary differs from its bitmap";
  if (cand &&
      !((blk->scav_dirty[c / 64] >> (c % 64) & 1) && (sb->scav_dirty[b / 64] >> (b % 64) & 1) &&
        (pa->scav_dirty[s / 64] >> (s % 64) & 1)))
    return "pagealloc: free unscavenged pages missing from the scavenge index";
  uint64_t cpg = (uint64_t)ci << CHUNK_LOG_PAGES, spg = pa->search_addr >> GM_PAGE_SHIFT;
  if (cpg < spg) {
    uint64_t n = spg - cpg < GM_CHUNK_PAGES ? spg - cpg : GM_CHUNK_PAGES;
    if (!gm_pb_range_is(ch->alloc, 0, (unsigned)n, true))
      return "pagealloc: free page below the search address";
  }
  if (((uintptr_t)(ci + 1) << GM_CHUNK_SHIFT) > pa->end)
    return "pagealloc: grown chunk above end";
  return NULL;
}

const char *gm_pagealloc_check(const gm_pagealloc_t *pa) {
  size_t total = 0, nfree = 0, nscav = 0;
  for (size_t s = 0; s < GM_PA_SUPERS; s++) {
    const struct gm_pa_super *sb = pa->super[s];
    if (!sb)
      continue;
    for (size_t b = 0; b < SUPER_BLOCKS; b++) {
      const pa_block_t *blk = sb->block[b];
      if (!blk)
        continue;
      for (size_t c = 0; c < BLOCK_CHUNKS; c++) {
        const char *err = check_chunk(pa, s, b, c, &nfree, &nscav);
        if (err)
          return err;
        total += block_grown(blk, c) ? GM_CHUNK_PAGES : 0;
      }
      size_t bi = s * SUPER_BLOCKS + b;
      if (!nodes_ok(pa, 6, bi * 8, 8) || !nodes_ok(pa, 7, bi * 64, 64))
        return "pagealloc: block summary differs from its children";
    }
    if (!nodes_ok(pa, 3, s * 8, 8) || !nodes_ok(pa, 4, s * 64, 64) ||
        !nodes_ok(pa, 5, s * 512, 512))
      return "pagealloc: super summary differs from its children";
  }
  if (!nodes_ok(pa, 0, 0, GM_PA_L0_ENTRIES) || !nodes_ok(pa, 1, 0, GM_PA_L1_ENTRIES) ||
      !nodes_ok(pa, 2, 0, GM_PA_L2_ENTRIES))
    return "pagealloc: top summary differs from its children";
  if (total != pa->total_pages)
    return "pagealloc: total page count is wrong";
  if (nfree != pa->free_pages)
    return "pagealloc: free page count is wrong";
  if (nscav != pa->scav_pages)
    return "pagealloc: scavenged page count is wrong";
  return NULL;
}
