/* span.h: mspan, a run of pages cut into equal objects (Go's mspan).
 *
 * All allocation state lives out of line, in bitmaps that follow the span
 * struct in metadata memory, never in the objects: a buffer overflow in
 * user memory cannot corrupt the allocator.
 *
 *   alloc_bits   1 = allocated, as of the last sweep. Bits past nelems are
 *                permanently 1, so the inverted cache never offers them.
 *   alloc_cache  the complement of the alloc_bits word holding freeindex,
 *                shifted so bit 0 is slot freeindex: the next free slot is
 *                count-trailing-zeros away (Go's allocCache).
 *   freeindex    every slot below it is allocated, whatever alloc_bits says.
 *                Taking a slot never writes alloc_bits; it only moves
 *                freeindex and shifts alloc_cache (Go's invariant). Where
 *                we leave Go: the refill sets every bit of the word the
 *                cache leaves, and the owner's first free of a slot taken
 *                from the current word sets its bit (free.h), so that
 *                alloc_bits may be ahead of the last sweep but never say
 *                "allocated" of a slot not handed out; readers still OR
 *                in the slots below freeindex.
 *   local_free   slots freed by the owning thread (plain writes; cleared
 *                again when its hot stack hands the slot out).
 *   remote_free  slots freed by other threads (atomic OR).
 *
 * A slot is allocatable again after a sweep: gm_span_sweep() folds both
 * free bitmaps into alloc_bits, resets freeindex to 0 and recounts, as
 * Go's sweeper folds gcmarkBits into allocBits. Or, for a slot its owner
 * freed, sooner: the owner's hot stack (mcache_hot.c) hands it out again
 * and clears its local_free bit (gm_span_hot_take), so the bitmaps say
 * "allocated" as before the free. gcmark_bits holds the marks of
 * the collected heap's spans (NULL in malloc spans), whose sweep
 * computes alloc = marks & ~freed (gc.h, gcsweep.c).
 *
 * The span state machine (which list a span is on, who may sweep it) is
 * described at the top of mcentral.c. */
#ifndef GM_SPAN_H
#define GM_SPAN_H

#include "internal.h"
#include "sizeclass.h"

struct gm_mcache;

/* Span states (gm_mspan_t.state; written under the owning lock, read
 * atomically by frees from any thread). */
enum {
  GM_SPAN_DEAD = 0,   /* not in use: its pages belong to the page allocator */
  GM_SPAN_CACHED = 1, /* small span owned by one mcache (owner != NULL) */
  GM_SPAN_PARTIAL = 2, /* small span on its mcentral's partial list */
  GM_SPAN_FULL = 3,   /* small span on its mcentral's full list */
  GM_SPAN_LARGE = 4,  /* one large object (size class 0) */
  /* The collected heap's spans (gc.h): owned by gm_gc, never by an mcache,
   * small_bytes 0 so that plain free's fast path turns them away. */
  GM_SPAN_GC = 5,       /* small objects of one GC kind */
  GM_SPAN_GC_LARGE = 6, /* one large collected object */
};

/* gm_mspan_t.cache_list: where a CACHED span sits in its owner's cache. */
enum { GM_CLIST_NONE = 0, GM_CLIST_FULL = 1, GM_CLIST_READY = 2 };

/* released_mask flag: the scavenger looked at this partial span since it
 * joined its list (see scavenger.c). */
#define GM_SPAN_SCANNED 0x80000000u

typedef struct gm_mspan gm_mspan_t;
struct gm_mspan {
  /* Two cache lines, laid out for free (measured in wl_replace, whose
   * frees find the span cold): the second holds every field free reads
   * and, right after them, the first bitmap word group, so that a free
   * into a span of up to 64 slots touches one line of metadata, where it
   * touched two, the second only once the first had come in (the group's
   * address waits on divmul). The first line: the owner's malloc and what
   * no fast path reads. Go's mspan has no such split (its free is the
   * sweeper's). The struct is 104 bytes, so that with one bitmap word a
   * span's metadata fits 128 (see GM_SPAN_META_ALIGN, mheap.h): the end of
   * the objects (gm_span_limit) and the bytes released
   * (gm_span_released_bytes) are computed rather than stored. */
  /* -- line 0: the owner's malloc (with freeindex and base, below) ------- */
  uint64_t alloc_cache; /* ~alloc_bits >> (freeindex % 64) window; 0 = go slow */
  size_t elemsize;      /* object size; npages * 8 KiB for a large span */
  /* -- cold -------------------------------------------------------------- */
  size_t npages;
  gm_mspan_t *next, *prev; /* mcentral list links, or fixalloc free list */
  uint64_t *gcmark_bits;   /* GC spans: mark bits, one per slot (gc.h) */
  uint32_t sweepgen;       /* reserved for the garbage-collected heap */
  /* OS pages released (bit i = page i) while the span is on a central
   * list, and GM_SPAN_SCANNED. Spans of more than 31 OS pages are not
   * released piecemeal. */
  uint32_t released_mask;
  uint32_t partial_epoch; /* scavenger epoch when put on a list (age);
                           * a GC span's kind (gc.h) */
  uint16_t nelems;        /* objects in the span (1 for large) */
  uint16_t notify_base;   /* see notify_ctr */
#if GM_DEBUG
#define GM_DBG_OFF_UNSET UINT32_MAX
  size_t dbg_size;   /* large: the requested size (debugheap.c) */
  uint32_t dbg_off;  /* large: the block's offset from base, GM_DBG_OFF_UNSET
                      * until debugheap.c has laid the block out */
  uint8_t dbg_guard; /* large: 1 last page kept as a guard, 2 also PROT_NONE */
#endif
  /* -- line 1: read by free, then bits[] --------------------------------- */
  uintptr_t base;          /* startAddr: first byte of the first page */
  struct gm_mcache *owner; /* mcache allocating from this span, or NULL */
  /* nelems * elemsize while this is an in-use small span, else 0: free's
   * one bounds check then also rejects dead and large spans. */
  size_t small_bytes;
  uint32_t divmul;    /* offset -> index magic (Go's divMul); 0 for large */
  uint16_t freeindex; /* written only by the allocating thread */
  /* Owner-only (mcache.c): the owner's frees that wait for a sweep count
   * notify_ctr down, and the one that brings it to 0 moves the span from
   * its cache's full list to the ready list. One decrement serves both the
   * count and the test; the count since the last sweep is notify_base -
   * notify_ctr (gm_span_local_nfreed). A free goes first on the owner's
   * hot stack (mcache_hot.c) and is counted only when dropped from it, so
   * the count is at most the local_free bits, fewer if a stack was emptied
   * without counting (after a reclaimer took spans): a guide for when to
   * sweep, never a count a sweep relies on. */
  uint16_t notify_ctr;
  gm_spanclass_t spanclass;
  uint8_t state;         /* GM_SPAN_*, see above; atomic */
  uint8_t cache_list;    /* GM_CLIST_*: none/current, full, ready */
  uint8_t nwords;        /* 64-bit words per bitmap */
  uint8_t needzero;      /* free slots may hold old data (calloc must clear) */
  uint8_t bucket;        /* metadata size bucket (mheap.c) */
  uint16_t alloc_count;  /* allocated objects as of the last sweep */
  uint64_t bits[];         /* alloc_bits, local_free, remote_free, interleaved */
};

#if !GM_DEBUG
/* Span metadata starts on a cache line (GM_SPAN_META_ALIGN), so these
 * put free's fields and the first bitmap group in line 1. */
_Static_assert(offsetof(gm_mspan_t, base) == 64 && offsetof(gm_mspan_t, bits) == 104,
               "free's fields and the first bitmap group no longer share line 1");
#endif

/* End of the objects: base + nelems * elemsize. */
GM_INLINE uintptr_t gm_span_limit(const gm_mspan_t *s) {
  return s->base + (size_t)s->nelems * s->elemsize;
}

/* Bytes of s's free slots released to the OS (see released_mask). */
GM_INLINE size_t gm_span_released_bytes(const gm_mspan_t *s, size_t os_page) {
  return (size_t)gm_popcount64(gm_load_relaxed(&s->released_mask) & ~GM_SPAN_SCANNED) * os_page;
}

/* Word w of each bitmap. The three bitmaps are interleaved word by word
 * (alloc, local_free, remote_free, alloc, ...), so that free computes one
 * address and touches one cache line. */
GM_INLINE uint64_t *gm_span_abits(gm_mspan_t *s, size_t w) { return &s->bits[3 * w]; }
GM_INLINE uint64_t *gm_span_lfree(gm_mspan_t *s, size_t w) { return &s->bits[3 * w + 1]; }
GM_INLINE uint64_t *gm_span_rfree(gm_mspan_t *s, size_t w) { return &s->bits[3 * w + 2]; }

/* Go's nextFreeFast: the next free slot from the 64-bit cache (non-zero),
 * or, from gm_span_next_free_fast, NULL when the cache is empty (the caller
 * takes the slow path). No atomics, no bitmap writes; freeindex is stored
 * relaxed because remote frees read it. */
GM_INLINE void *gm_span_take(gm_mspan_t *s, uint64_t cache) {
  uint64_t b = gm_ctz64_nz(cache);
  size_t idx = (size_t)s->freeindex + b;
  s->alloc_cache = (cache >> b) >> 1; /* two shifts: b + 1 may be 64 */
  gm_store_relaxed(&s->freeindex, (uint16_t)(idx + 1));
  return (void *)(s->base + idx * s->elemsize);
}

GM_INLINE void *gm_span_next_free_fast(gm_mspan_t *s) {
  uint64_t cache = s->alloc_cache;
  if (GM_UNLIKELY(cache == 0))
    return NULL;
  return gm_span_take(s, cache);
}

/* s->owner == c, read as a relaxed load would (a span's owner is written
 * by other threads): one compare with memory, where the compiler loads an
 * atomic into a register first. */
GM_INLINE bool gm_span_owned_by(gm_mspan_t *s, const struct gm_mcache *c) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  bool eq;
  __asm__("cmpq %1, %2" : "=@cce"(eq) : "r"(c), "m"(s->owner));
  return eq;
#else
  return gm_load_relaxed(&s->owner) == c;
#endif
}

/* x | *w, *w read as a relaxed load would (remote frees OR into it): one
 * instruction with a memory operand, where the compiler loads an atomic
 * into a register first (in free that cost a register and so a spill). */
GM_INLINE uint64_t gm_or_relaxed(uint64_t x, const uint64_t *w) {
#if defined(__x86_64__)
  __asm__("orq %1, %0" : "+r"(x) : "m"(*w) : "cc");
  return x;
#else
  return x | gm_load_relaxed(w);
#endif
}

/* Hand out slot idx of a span again straight from the owner's hot stack
 * (mcache.h); wp = gm_span_abits(s, idx / 64). The slot's local_free bit
 * goes, so the bitmaps say "allocated" as before its free (which
 * notify_ctr never counted). The slot may hold old data, which needzero
 * does not say: calloc takes no hot slots (malloc.c). */
GM_INLINE void gm_span_hot_take(uint64_t *wp, size_t idx) {
  gm_store_relaxed(&wp[1], gm_bit_clear(wp[1], idx));
}

/* notify_ctr start for "never notify": no span has this many slots, so
 * the count cannot reach 0 from here. */
#define GM_NOTIFY_NEVER 0x8000u

/* The owner's frees into s since its last sweep, but for those on its hot
 * stack (see notify_ctr). */
GM_INLINE unsigned gm_span_local_nfreed(const gm_mspan_t *s) {
  return (uint16_t)(s->notify_base - s->notify_ctr);
}

/* Notify when the owner's frees since the last sweep reach at (0: never),
 * keeping the count. */
GM_INLINE void gm_span_set_notify(gm_mspan_t *s, unsigned at) {
  unsigned n = gm_span_local_nfreed(s);
  unsigned base = at > n ? at : GM_NOTIFY_NEVER;
  s->notify_base = (uint16_t)base;
  s->notify_ctr = (uint16_t)(base - n);
}

/* The bits of word w that stand for real slots (not the permanent tail). */
GM_INLINE uint64_t gm_span_slot_mask(const gm_mspan_t *s, unsigned w) {
  unsigned tail = (unsigned)gm_load_relaxed(&s->nelems) & 63;
  return (w == (unsigned)gm_load_relaxed(&s->nwords) - 1u && tail) ? ~(~0ULL << tail) : ~0ULL;
}

/* Object index of an offset within a small span (Go's divMul trick). */
GM_INLINE size_t gm_span_obj_index(const gm_mspan_t *s, uintptr_t off) {
  return (size_t)(((uint64_t)off * s->divmul) >> 32);
}

/* The same for off < small_bytes, also telling whether off is an object's
 * start, without multiplying back: divmul = (2^32 + e) / elemsize with
 * 0 <= e < elemsize, so off = i * elemsize + r gives a product whose low
 * 32 bits are i * e + r * divmul. That is below divmul iff r = 0, as long
 * as e * nelems < divmul, which holds for every class (e * span bytes <
 * 2^32; the sizeclasses unit test checks every offset of every class). */
GM_INLINE bool gm_span_obj_index_exact(const gm_mspan_t *s, uintptr_t off, size_t *idx) {
  uint32_t m = s->divmul;
  uint64_t q = (uint64_t)off * m;
  *idx = (size_t)(q >> 32);
  return (uint32_t)q < m;
}

/* gm_span_obj_index_exact for off < 2^32 (free's offsets, which are
 * below small_bytes): a 32 x 32 -> 64 bit multiply leaves the index in
 * one register and the low half, to compare with divmul, in another,
 * both read from memory: three instructions where the 64-bit product
 * took six (moves to keep divmul and to split the product). */
GM_INLINE bool gm_span_obj_index_exact32(const gm_mspan_t *s, uintptr_t off, size_t *idx) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  uint32_t lo, hi;
  bool exact;
  __asm__("mull %[m]\n\tcmpl %[m], %%eax"
          : "=a"(lo), "=d"(hi), "=@ccb"(exact)
          : "0"((uint32_t)off), [m] "m"(s->divmul));
  (void)lo;
  *idx = hi;
  return exact;
#else
  return gm_span_obj_index_exact(s, off, idx);
#endif
}

/* off < *bound, *bound read as a relaxed load would: one compare with
 * memory (see gm_span_owned_by). */
GM_INLINE bool gm_below_relaxed(uintptr_t off, const size_t *bound) {
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  bool b;
  __asm__("cmpq %2, %1" : "=@ccb"(b) : "r"(off), "m"(*bound));
  return b;
#else
  return off < gm_load_relaxed(bound);
#endif
}

/* Claim live large span s for freeing: one CAS of its state from LARGE to
 * DEAD, so that of two frees racing on one block exactly one wins, and the
 * other sees DEAD and is reported as the double free it is. A check that
 * read the state and freed later under the heap lock let both through now
 * and then, and the second one returned pages (and the span struct) that
 * by then could belong to a new block: a block handed out twice (issue 15,
 * item 6). The winner then gives the span back (gm_mheap_free_span); until
 * it does, the span is dead in all but name, as a small span its mcentral
 * marks dead on its way back to the heap. False, with *seen set to the
 * state found, if s was not a live large span. */
GM_INLINE bool gm_span_claim_large(gm_mspan_t *s, uint8_t *seen) {
  uint8_t st = GM_SPAN_LARGE;
  bool won = gm_cas_seqcst(&s->state, &st, (uint8_t)GM_SPAN_DEAD);
  *seen = st;
  return won;
}

/* Out of line (span.c). */

/* Set up a span struct for npages at base in span class spc (0/1 = large). */
void gm_span_init(gm_mspan_t *s, uintptr_t base, size_t npages, gm_spanclass_t spc);

/* Load the cache from the next alloc_bits word with a free slot at or after
 * freeindex (Go's nextFreeIndex refill). False when the span is exhausted,
 * with freeindex = nelems. */
bool gm_span_refill_cache(gm_mspan_t *s);

/* Fold freed slots back into alloc_bits, reset freeindex and the cache and
 * recount (Go's sweep). The caller must be the only allocator of s (its
 * owner, or the holder of its mcentral lock while it is on a list). Remote
 * frees may run concurrently. Counts what it folds in into own (the
 * owner's counters for s's class, plain stores) or, if NULL, into the
 * shared gm_class_counts. Returns the number of free slots. */
struct gm_class_counts;
unsigned gm_span_sweep_counted(gm_mspan_t *s, struct gm_class_counts *own);
#define gm_span_sweep(s) gm_span_sweep_counted((s), NULL)

/* The sweep of an exhausted span (freeindex = nelems) whose frees are all
 * its owner's: every slot was handed out, so the new alloc_bits are the
 * complement of local_free, with no atomic (the free count is local_free's
 * popcount: the owner's count leaves out its hot stacks). True with the
 * cache loaded (s has at least one free slot); false, changing nothing, if
 * s is not exhausted, has no counted owner frees, or has remote frees
 * waiting (the full sweep handles those). Owner only. */
bool gm_span_sweep_local(gm_mspan_t *s, struct gm_class_counts *own);

/* The sweep of an exhausted span whose every slot is free again, freed by
 * its owner or by other threads: no slot is allocated, so no free by
 * another thread can still be on its way but a double free, which finds
 * its bit still set (before the clear) or its slot free (after freeindex
 * is reset), as against the full sweep. True with the cache loaded;
 * false, changing nothing, if s is not exhausted or a slot is not free
 * (or freed twice: the full sweep reports it). Owner only. */
bool gm_span_sweep_emptied(gm_mspan_t *s, struct gm_class_counts *own);

/* True if frees are waiting to be swept in (owner's view). */
bool gm_span_has_frees(gm_mspan_t *s);

/* True if every allocated slot has a remote free recorded: the span is
 * empty once swept. Only meaningful for a span on an mcentral list. */
bool gm_span_all_freed_remote(gm_mspan_t *s);

/* Cumulative objects allocated from / freed into spans of each span class,
 * counted when sweeps fold them in (so the fast paths count nothing). */
typedef struct gm_class_counts {
  uint64_t nmalloc, nfree;
} gm_class_counts_t;
extern gm_class_counts_t gm_class_counts[GM_NUM_SPAN_CLASSES];
GM_INLINE void gm_span_count_frees(gm_mspan_t *s, unsigned n) {
  gm_fetch_add_relaxed(&gm_class_counts[s->spanclass].nfree, n);
}

/* Internal consistency checks for debug builds and tests; NULL if fine. */
const char *gm_span_check(gm_mspan_t *s);

#if GM_DEBUG
/* Debug builds: a small span made from pages that may hold old data is
 * filled so that every slot looks freed (the checked heap, debugheap.c,
 * verifies the fill when a slot is handed out). */
void gm_span_dbg_fill(gm_mspan_t *s);
#endif

#endif /* GM_SPAN_H */
