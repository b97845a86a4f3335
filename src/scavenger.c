/* scavenger.c: giving memory back to the OS, after Go's mgcscavenge.go.
 *
 * What is released. Free pages of the page heap (pages the page allocator
 * has free but still backed), highest addresses first: allocation is
 * lowest-address-first, so the top of the heap is the cold end and the
 * heap stays compact. And the whole free OS pages inside partial spans
 * that have gone half a second without a free: random survivors pin partly
 * used spans, and for classes of a few hundred bytes and up much of such a
 * span can still go back, 4 KiB at a time. Released pages read as zero
 * (MADV_DONTNEED), so reusing them needs no clearing: the page allocator
 * reports them as scavenged and calloc skips the memset. (Pages released
 * inside a span are not tracked per slot: the span's needzero stays set
 * and calloc clears such a slot although it reads as zero; correct, if
 * not free.)
 *
 * In what order. Span interiors first, when they are due: their pages can
 * only be reused by their own size class, while free heap pages are the
 * first thing any growth reuses, so span pages are the ones a later phase
 * of the program is least likely to fault straight back in. A span whose
 * free pages were released is also put behind the partial spans whose free
 * slots are still resident, so that its class fills resident holes first
 * (mcentral.h). Releasing inside spans costs a madvise per run of a page
 * or two, about ten times the cost per byte of releasing heap pages, which
 * is why each span is looked at only once its frees have stopped (mcentral's
 * pass, gm_mcentral_scavenge, picks the spans; gm_scavenge_span_locked
 * below releases their pages).
 *
 * How much. Like Go, we keep a retained target: the peak of memory in use
 * by spans over the last half second (less the pages released inside
 * them), plus a margin (10% by default, Go's retainExtraPercent; mallopt's
 * M_TRIM_THRESHOLD and M_TOP_PAD set it in bytes instead, see scavenger.h). Memory below the target is kept, so a program that
 * repeatedly allocates and frees a big buffer reuses resident pages
 * instead of faulting them in again (this is where eager releasers are
 * slow); memory above it is released. GOMALLOC_RETAIN_MAX adds a hard
 * limit, enforced synchronously when the heap grows (Go's memory limit;
 * the heap does that itself, mheap.c, which also keeps the retained figure).
 *
 * Hot free pages. The target does not see fragmentation: a program keeping
 * 20 buffers of 5-25 MiB and replacing one at random needs a heap about
 * 1.5x its live bytes, since a freed run seldom fits the next size, and the
 * free runs in it are reused within milliseconds. Releasing them down to
 * the target made such runs fault back in: bench's bigset took 230-290 k
 * page faults (glibc 223 k; 121 k with the scavenger off, 126 k now). So free pages in a 4 MiB
 * chunk where pages were allocated or freed in the last half second
 * (GM_SCAV_HOT_TICKS; the page heap stamps each chunk with our clock) are
 * kept up to twice the target; cold chunks go first, as before, highest
 * first. Go keeps per-chunk generations for a like purpose (it skips
 * chunks that were dense in the last GC cycle, for huge pages); ours are
 * by time, as there is no GC cycle. An idle program still gives everything
 * above the target back half a second after its last free, and RSS stays
 * within twice the target while it cycles memory. An explicit
 * M_TRIM_THRESHOLD is a strict bound and has no such allowance.
 *
 * Who does it. The background thread (background.c) on its ticks, and
 * gm_release. This file is the policy only, and sits between mcentral and
 * mheap: it never calls up. Heap-lock hold times stay short: pages are
 * released a few MiB at a time.
 *
 * Huge pages. We leave transparent huge pages to the kernel's default and
 * call no MADV_HUGEPAGE / NOHUGEPAGE. Releasing from the top of the heap,
 * and only above the recent peak, means the dense, hot bottom of the heap
 * is not carved up to release a page here and there; a chunk is released
 * only when the whole heap has shrunk well below what it recently used.
 * Releases inside cold partial spans do split huge pages, but only where a
 * span has sat half a second with most of its slots free. Go's extra rule of skipping chunks that were dense in the last cycle
 * is not implemented. */
#include "scavenger.h"

#include "mheap.h"
#include "options.h"
#include "os.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

uint32_t gm_scav_epoch;
size_t gm_scav_trim_threshold = GM_SCAV_UNSET, gm_scav_top_pad;

#define BATCH_BYTES ((size_t)4 << 20) /* per heap-lock hold */



/* Memory in use by spans, less the free slots released inside them: the
 * target must not count released pages as in use, or every byte released
 * inside a span would let a byte of free pages stay resident instead. */
static size_t inuse_locked(void) {
  size_t n = (gm_heap.small_pages + gm_heap.large_pages) << GM_PAGE_SHIFT;
  size_t spans = gm_load_relaxed(&gm_heap.span_released_bytes);
  return n > spans ? n - spans : 0;
}

size_t gm_scavenger_target(gm_scav_window_t *w, uint32_t tick, size_t *retained, size_t *limit) {
  gm_lock(&gm_heap.lock);
  gm_heap.pages.clock = gm_load_relaxed(&gm_scav_epoch); /* for the chunks' stamps */
  size_t inuse = inuse_locked();
  *retained = gm_mheap_retained_locked();
  gm_unlock(&gm_heap.lock);
  w->inuse[tick % GM_SCAV_WINDOW_TICKS] = inuse;
  size_t peak = 0;
  for (int i = 0; i < GM_SCAV_WINDOW_TICKS; i++)
    if (w->inuse[i] > peak)
      peak = w->inuse[i];
  size_t slack = peak / 100 * gm_options.scavenger_margin;
  size_t tt = gm_load_relaxed(&gm_scav_trim_threshold), pad = gm_load_relaxed(&gm_scav_top_pad);
  if (tt != GM_SCAV_UNSET)
    slack = tt;
  if (slack < pad)
    slack = pad;
  size_t target = slack > SIZE_MAX - peak ? SIZE_MAX : peak + slack;
  /* Recently used free pages may stay up to twice the target (Go's heap
   * goal is twice the live heap at GOGC=100, and its retained target 10%
   * above that); an explicit M_TRIM_THRESHOLD is a strict bound. */
  *limit = tt != GM_SCAV_UNSET || target > SIZE_MAX / 2 ? target : 2 * target;
  if (gm_options.retain_max && target > gm_options.retain_max)
    target = gm_options.retain_max;
  if (gm_options.retain_max && *limit > gm_options.retain_max)
    *limit = gm_options.retain_max;
  return target;
}

/* Is any of slots [i0, i1] of s allocated? After a sweep (freeindex 0)
 * alloc_bits alone say so; a slot whose remote free is still pending counts
 * as allocated, which only makes us keep a page. */
static bool slots_allocated(gm_mspan_t *s, size_t i0, size_t i1) {
  for (size_t w = i0 / 64; w <= i1 / 64; w++) {
    uint64_t m = ~0ULL;
    if (w == i0 / 64)
      m &= ~0ULL << (i0 % 64);
    if (w == i1 / 64 && i1 % 64 != 63)
      m &= (1ULL << (i1 % 64 + 1)) - 1;
    if (*gm_span_abits(s, w) & m)
      return true;
  }
  return false;
}

size_t gm_scavenge_span_locked(gm_mspan_t *s) {
  size_t ps = gm_sys_page_size();
  size_t bytes = s->npages << GM_PAGE_SHIFT, np = bytes / ps;
  size_t objs = (size_t)s->nelems * s->elemsize; /* past this: tail, never used */
  if (np == 0 || np > 31) {
    s->released_mask |= GM_SPAN_SCANNED; /* smaller than an OS page, or too many for the mask */
    return 0;
  }
  uint32_t mask = s->released_mask;
  size_t released = 0, run = 0;
  /* Pages not yet released that hold no allocated slot, in runs: one
   * madvise per run (p == np flushes the last one). */
  for (size_t p = 0; p <= np; p++) {
    bool take = false;
    if (p < np && !(mask >> p & 1)) {
      size_t lo = p * ps, hi = lo + ps;
      take = lo >= objs ||
             !slots_allocated(s, lo / s->elemsize, ((hi < objs ? hi : objs) - 1) / s->elemsize);
    }
    if (take) {
      run++;
      continue;
    }
    if (run) {
      gm_sys_unused((void *)(s->base + (p - run) * ps), run * ps);
      released += run * ps;
      mask |= ((1u << run) - 1) << (p - run);
      run = 0;
    }
  }
  s->released_mask = mask | GM_SPAN_SCANNED;
  if (released)
    gm_fetch_add_relaxed(&gm_heap.span_released_bytes, released);
  return released;
}

/* Release up to want bytes of free heap pages, a batch per lock hold; the
 * cursor carries the cold search down from batch to batch. */
size_t gm_scavenge_heap(size_t want, uint32_t min_age, uint64_t deadline) {
  size_t total = 0;
  uintptr_t below = UINTPTR_MAX;
  while (total < want) {
    size_t ask = want - total < BATCH_BYTES ? want - total : BATCH_BYTES;
    gm_lock(&gm_heap.lock);
    size_t n = min_age ? gm_pagealloc_scavenge_cold(&gm_heap.pages, ask, min_age, &below,
                                                    gm_mheap_release_range_locked)
                       : gm_pagealloc_scavenge(&gm_heap.pages, ask, gm_mheap_release_range_locked);
    gm_unlock(&gm_heap.lock);
    total += n;
    if (n < ask || (deadline && gm_sys_thread_cpu_ns() > deadline))
      break;
  }
  return total;
}

size_t gm_scavenge_all(void) { return gm_scavenge_heap(SIZE_MAX, 0, 0); }
