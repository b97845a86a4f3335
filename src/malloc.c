/* malloc.c: the C and POSIX allocation API, and the overview of gomalloc.
 *
 * gomalloc is Go's memory allocator (runtime/malloc.go, mheap.go, mcache.go,
 * mcentral.go, mpagealloc.go) turned into a C malloc. The main allocator
 * works in runs of 8 KiB pages. Small requests (<= 32 KiB) are rounded up to
 * one of Go's 67 size classes, and each class is carved from runs of pages
 * cut into equal objects; large requests get a page run of their own.
 *
 * The allocator's data structures are:
 *
 *   fixalloc:  free-list allocator for fixed-size off-heap objects (spans,
 *              mcaches), from OS memory.
 *   mheap:     the page heap, managed at 8 KiB page granularity.
 *   mspan:     a run of in-use pages managed by the mheap.
 *   mcentral:  collects all spans of a given span class.
 *   mcache:    a per-thread cache of spans with free space.
 *   pagealloc: bitmap + radix tree of free-run summaries over the pages.
 *
 * Allocating a small object walks up a hierarchy of caches:
 *
 *   1. Round the size up to a size class. If the thread freed a block of
 *      that class lately, hand it out again (the class's hot stack in the
 *      mcache, LIFO). Else look at the thread's mcache span for the class
 *      and take the next free slot from the span's 64-bit allocCache with
 *      count-trailing-zeros. No lock, no atomic.
 *   2. If the cache word is used up, load the next word of allocBits. If the
 *      span is exhausted but frees are waiting in its bitmaps, sweep it in
 *      place and go on (still no lock).
 *   3. Otherwise hand the span back to its mcentral and take a span with
 *      free space from it (swept on the way), under the mcentral's lock.
 *   4. If the mcentral has none, allocate a run of pages from the mheap
 *      (heap lock, first fit by address in the page bitmap; blocks of
 *      1 MiB or more take the highest fit instead, see mheap.c).
 *   5. If the mheap has no free run, grow the heap by mapping a 4 MiB chunk
 *      of a reserved 64 MiB arena, reserving more arenas as needed.
 *
 * Large objects (> 32 KiB) go straight to the mheap (steps 4-5) as a span of
 * their own, and are given back to it by free.
 *
 * Where we leave Go, and why:
 *
 *   - Explicit free, and large frees that return their pages at once:
 *     see free.c, which holds every way a block is freed.
 *   - Hot reuse: a block its thread frees goes on a per-class LIFO stack
 *     of slots in the thread's mcache, and the next malloc of the class
 *     takes it, while its cache lines are warm (mcache_hot.c). Go reuses
 *     a slot only after the sweeper folds it into allocBits; with that, a
 *     thread replacing random blocks of a working set took 2x tcmalloc's
 *     time. The bitmaps stay the truth: a slot on a stack is free in
 *     them, so sweeps, stats and every double-free check see it so.
 *   - No tiny allocator. Go packs several tiny noscan objects into one
 *     16-byte block and frees the block when the GC finds all of them
 *     dead; free() of one of them could not free the block. Requests of
 *     1-8 bytes use class 1 (8 B), 9-16 bytes class 2.
 *   - 16-byte alignment. malloc gives 16-byte aligned memory to every
 *     request of 16 bytes or more, as glibc does on x86-64; Go's 24-byte
 *     class is only 8-byte aligned, so 17-24 byte requests use the 32-byte
 *     class unless GOMALLOC_ALIGN8=1 (sizeclass.h). Go's table itself is
 *     unchanged.
 *   - Per-thread, not per-P, caches, flushed by a pthread key destructor.
 *   - Metadata reserved lazily (arena map, page summaries), so programs
 *     start under a small `ulimit -v`.
 *
 * Kept for the garbage-collected heap to come: span classes with the
 * noscan bit (plain malloc uses "scan" classes), gcmark_bits and sweepgen
 * in every span, and sweeping as the only way a slot another thread freed
 * (or the collector found dead) becomes free again.
 *
 * Zeroing: a span made from pages that were never touched (or were given
 * back to the OS) is known to be zero; needzero is set once a sweep frees
 * a slot, or when the pages were used before. calloc takes no hot slots
 * (they are always dirty) and clears only when needzero says the memory
 * may be dirty. */
#include "mallocgc.h"

#include "error.h"
#include "gomalloc.h"
#include "mcentral.h"
#include "mheap.h"
#include "os.h"
#include "scavenger.h"
#include "vg.h"

#include <errno.h>
#include <string.h>

/* ---- helpers --------------------------------------------------------- */

GM_NOINLINE void *gm_malloc_large(size_t size, size_t align_pages) {
  if (GM_UNLIKELY(gm_load_acquire(&gm_init_state) != GM_INIT_DONE))
    gm_init();
  if (GM_UNLIKELY(size > GM_MAX_ALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t npages = (size + GM_PAGE_MASK) >> GM_PAGE_SHIFT;
  if (npages == 0)
    npages = 1;
  gm_mspan_t *s =
      gm_mheap_alloc_span(npages, gm_make_spanclass(0, false), align_pages, GM_SPAN_LARGE, NULL);
  if (GM_UNLIKELY(!s)) {
    gm_mcache_oom_release(); /* spans kept by caches, then try again */
    s = gm_mheap_alloc_span(npages, gm_make_spanclass(0, false), align_pages, GM_SPAN_LARGE, NULL);
  }
  gm_mheap_after_alloc(); /* no lock held */
  return s ? (void *)s->base : NULL;
}

/* ---- the API ------------------------------------------------------------ */

GM_API void *gm_malloc(size_t size) { return gm_malloc_impl(size); }

GM_API void gm_free(void *p) { gm_free_impl(p); }

GM_API void gm_free_sized(void *p, size_t size) {
#if GM_DEBUG
  if (p && gm_dbg_size(gm_live_span(p, "free"), p) < size)
    gm_fatal("invalid free_sized", p, "size larger than the block");
#else
  (void)size;
#endif
  gm_free(p);
}

GM_API void gm_free_aligned_sized(void *p, size_t alignment, size_t size) {
#if GM_DEBUG
  if (p && ((uintptr_t)p & (alignment - 1)))
    gm_fatal("invalid free_aligned_sized", p, "block not aligned as stated");
#else
  (void)alignment;
#endif
  gm_free_sized(p, size);
}

GM_API void *gm_calloc(size_t count, size_t size) {
  size_t n;
  if (GM_UNLIKELY(__builtin_mul_overflow(count, size, &n))) {
    errno = ENOMEM;
    return NULL;
  }
  void *p;
  /* Not from a hot stack (mcache.h): a fresh slot needs no clearing. */
  if (!GM_DEBUG && n <= GM_MAX_SMALL_SIZE) {
    p = gm_mcache_alloc_small_span(n);
    GM_VG_MALLOC(p, n, 0);
  } else {
    p = gm_malloc_impl(n);
  }
  if (GM_UNLIKELY(p == NULL))
    return NULL;
  /* Clear only memory that may be dirty: fresh pages are already zero
   * (debug builds fill even fresh slots). */
  if (GM_DEBUG || gm_span_of((uintptr_t)p)->needzero)
    memset(p, 0, n);
  GM_VG_DEFINED(p, n); /* zero either way */
  return p;
}

GM_API size_t gm_usable_size(const void *p) {
  if (!p)
    return 0;
  gm_mspan_t *s = gm_live_span(p, "malloc_usable_size");
#if GM_DEBUG
  return gm_dbg_size(s, p); /* the rest of the slot is canary */
#else
  /* Valgrind builds: the rest of the slot is no-access to memcheck, so, as
   * under memcheck's own malloc, the usable size is the requested one. */
  return GM_VG_SIZE(p, s->elemsize);
#endif
}

GM_API void *gm_realloc(void *p, size_t size) {
  if (p == NULL)
    return gm_malloc_impl(size);
  if (size == 0) {
    /* glibc: realloc(p, 0) frees p and returns NULL. */
    gm_free_impl(p);
    return NULL;
  }
  gm_mspan_t *s = gm_live_span(p, "realloc");
#if GM_DEBUG
  {
    /* In place within a small block's class, or over free pages after a
     * large block, as in release builds; otherwise move. A large block is
     * claimed throughout (debugheap.h). */
    bool large = gm_dbg_claim(s, p);
    size_t n = gm_dbg_size(s, p);
    void *r = gm_dbg_resize_in_place(s, p, size);
    if (r && large)
      gm_dbg_unclaim(s);
    if (r == p) {
      GM_VG_RESIZE(p, n, size);
      return r;
    }
    if (r) {
      /* A large block slid up in its pages: to memcheck, a new block
       * holding the old bytes (their definedness is lost). */
      GM_VG_FREE(p);
      GM_VG_MALLOC(r, size, 0);
      GM_VG_DEFINED(r, n < size ? n : size);
      return r;
    }
    void *q = gm_malloc_impl(size);
    if (q)
      memcpy(q, p, n < size ? n : size);
    if (!large) {
      if (q)
        gm_free_impl(p);
    } else if (q) {
      GM_VG_FREE(p);
      gm_dbg_free_claimed(s, p);
    } else {
      gm_dbg_unclaim(s);
    }
    return q;
  }
#endif
  size_t old = s->elemsize;
  /* The size memcheck knows in valgrind builds (old otherwise): resizing
   * in place must name it exactly, and a move copies only the bytes the
   * program may read. */
  size_t known = GM_VG_SIZE(p, old);
  unsigned cls = gm_spanclass_sizeclass(s->spanclass);
  if (cls != 0) {
    /* Same class: nothing to do. Growing past it or shrinking to a smaller
     * class moves the block (shrinking frees the room for other sizes). */
    if (size <= GM_MAX_SMALL_SIZE && (size <= old && gm_size_to_class(size) >= cls)) {
      GM_VG_RESIZE(p, known, size);
      return p;
    }
  } else {
    /* A large block is claimed for the whole realloc, as free claims it
     * (span.h): a free racing this realloc then finds it claimed and names
     * the double free, rather than the realloc going on with a block freed
     * under it, whose pages its own malloc below could be handed (issue 15:
     * 1 in 1500 racing attempts then ended in "invalid free" of an interior
     * pointer). After the claim the base is looked at again, as free does. */
    uint8_t seen;
    if (!gm_span_claim_large(s, &seen))
      gm_fatal("invalid realloc", p, "block already free");
    if (GM_UNLIKELY(gm_load_relaxed(&s->base) != (uintptr_t)p)) {
      gm_store_release(&s->state, (uint8_t)GM_SPAN_LARGE); /* another block's */
      gm_fatal("invalid realloc", p, "block already free");
    }
    old = s->elemsize; /* as of the claim */
    known = GM_VG_SIZE(p, old);
    if (size > GM_MAX_SMALL_SIZE && size <= GM_MAX_ALLOC) {
      size_t npages = (size + GM_PAGE_MASK) >> GM_PAGE_SHIFT;
      bool in_place = true;
      /* Shrink in place, the tail pages going back to the heap, unless the
       * saving would be under a quarter (no ping-pong for small changes);
       * grow in place over free pages after the block if there are. */
      if (npages < s->npages) {
        if (s->npages - npages >= (s->npages + 3) / 4)
          gm_mheap_shrink_span(s, p, npages);
      } else if (npages > s->npages) {
        in_place = gm_mheap_grow_span(s, p, npages); /* new pages come no-access */
      }
      if (in_place) {
        gm_store_release(&s->state, (uint8_t)GM_SPAN_LARGE);
        GM_VG_RESIZE(p, known, size);
        return p;
      }
    }
    void *q = gm_malloc_impl(size);
    if (GM_UNLIKELY(q == NULL)) {
      gm_store_release(&s->state, (uint8_t)GM_SPAN_LARGE); /* p is untouched */
      return NULL;
    }
    memcpy(q, p, known < size ? known : size);
    GM_VG_FREE(p);
    gm_mheap_free_span(s); /* the claimed span, as free gives it back */
    return q;
  }
  void *q = gm_malloc_impl(size);
  if (GM_UNLIKELY(q == NULL))
    return NULL; /* p is untouched */
  memcpy(q, p, known < size ? known : size);
  gm_free_impl(p);
  return q;
}

GM_API void *gm_reallocarray(void *p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return NULL;
  }
  return gm_realloc(p, n);
}

/* Alignments we can ever satisfy: beyond this the address space is too
 * small, so the request is invalid rather than merely too large. */
#define GM_MAX_ALIGN ((size_t)1 << (GM_ADDR_BITS - 2))

/* align is a power of two. Small sizes use the first size class whose
 * objects are all aligned (a 4 KiB-aligned 4 KiB block is one 4 KiB slot);
 * everything else is a large span whose first page is aligned. */
static void *aligned_raw(size_t align, size_t size) {
#if GM_DEBUG
  if (align > GM_MAX_ALIGN) {
    errno = ENOMEM;
    return NULL;
  }
  return gm_dbg_malloc(size, align);
#endif
  if (align <= 16) {
    if (size < align)
      size = align;
    return gm_malloc_raw(size);
  }
  if (size <= GM_MAX_SMALL_SIZE && align <= GM_PAGE_SIZE) {
    if (GM_UNLIKELY(gm_load_acquire(&gm_init_state) != GM_INIT_DONE))
      gm_init();
    unsigned cls = gm_size_to_class_aligned(size, align);
    if (cls)
      return gm_mcache_alloc_small(gm_class_to_size[cls]);
  }
  if (size > GM_MAX_ALLOC || align > GM_MAX_ALIGN) {
    errno = ENOMEM;
    return NULL;
  }
  size_t align_pages = align > GM_PAGE_SIZE ? align >> GM_PAGE_SHIFT : 1;
  return gm_malloc_large(size ? size : 1, align_pages);
}

static void *aligned_impl(size_t align, size_t size) {
  void *p = aligned_raw(align, size);
  GM_VG_MALLOC(p, size, 0);
  return p;
}

GM_API void *gm_aligned_alloc(size_t alignment, size_t size) {
  if (!gm_is_pow2(alignment) || alignment > GM_MAX_ALIGN) {
    errno = EINVAL;
    return NULL;
  }
  return aligned_impl(alignment, size);
}

GM_API int gm_posix_memalign(void **out, size_t alignment, size_t size) {
  if (!gm_is_pow2(alignment) || alignment % sizeof(void *) != 0)
    return EINVAL;
  int saved = errno;
  void *p = aligned_impl(alignment, size);
  if (!p) {
    errno = saved;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

GM_API void *gm_memalign(size_t alignment, size_t size) {
  if (alignment > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  if (alignment == 0)
    alignment = 1;
  if (!gm_is_pow2(alignment)) /* glibc rounds up */
    alignment = (size_t)1 << (64 - __builtin_clzll(alignment));
  return aligned_impl(alignment, size);
}

GM_API void *gm_valloc(size_t size) { return aligned_impl(gm_sys_page_size(), size); }

GM_API void *gm_pvalloc(size_t size) {
  size_t ps = gm_sys_page_size();
  if (size > SIZE_MAX - ps) {
    errno = ENOMEM;
    return NULL;
  }
  size = GM_ALIGN_UP(size ? size : 1, ps);
  return aligned_impl(ps, size);
}

/* ---- heap control ---------------------------------------------------- */

GM_API void gm_thread_flush(void) {
  gm_mcache_t *c = gm_tls_mcache;
  if (c != &gm_empty_mcache)
    gm_mcache_release_all(c);
}

/* malloc_trim(pad): glibc leaves pad bytes of free memory untrimmed at the
 * top of its heap; we leave pad bytes of free heap pages resident (the
 * lowest ones, as the scavenger releases from the top). Free pages inside
 * partial spans always go: only their own size class could reuse them. */
GM_API size_t gm_trim(size_t pad) {
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    gm_init();
  gm_thread_flush();
  gm_mcache_reclaim_idle(false); /* threads idle since the last call */
  gm_mcache_trim(0);             /* every other thread's listed spans */
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    gm_mcentral_reclaim(&gm_central[i]);
  size_t n = gm_mcentral_scavenge_all(); /* free pages inside partial spans */
  if (pad == 0)
    return n + gm_scavenge_all(); /* then every free heap page */
  gm_lock(&gm_heap.lock);
  size_t resident = (gm_pagealloc_free_pages(&gm_heap.pages) -
                     gm_pagealloc_scavenged_pages(&gm_heap.pages)) << GM_PAGE_SHIFT;
  gm_unlock(&gm_heap.lock);
  return n + (resident > pad ? gm_scavenge_heap(resident - pad, 0, 0) : 0);
}

GM_API size_t gm_release(void) { return gm_trim(0); }

GM_API const char *gm_version(void) { return "0.1.0"; }
