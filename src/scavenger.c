/* scavenger.c: giving memory back to the OS, after Go's mgcscavenge.go.
 *
 * What is released. Free pages of the page heap (pages the page allocator
 * has free but still backed), highest addresses first: allocation is
 * lowest-address-first, so the top of the heap is the cold end and the
 * heap stays compact. And the whole free OS pages inside spans that have
 * sat on an mcentral partial list for half a second or more: random survivors
 * pin partly used spans, and for classes of a few KiB most of such a span
 * can still go back. Released pages read as zero (MADV_DONTNEED), so
 * reusing them needs no clearing: the page allocator reports them as
 * scavenged and calloc skips the memset.
 *
 * How much. Like Go, we keep a retained target: the peak of memory in use
 * by spans over the last half second, plus a margin (10% by default, Go's
 * retainExtraPercent). Memory below the target is kept, so a program that
 * repeatedly allocates and frees a big buffer reuses resident pages
 * instead of faulting them in again (this is where eager releasers are
 * slow); memory above it is released. GOMALLOC_RETAIN_MAX adds a hard
 * limit, enforced synchronously when the heap grows (Go's memory limit).
 *
 * Who does it. A background thread, started lazily once the heap has
 * mapped 16 MiB (small programs never get one), because the memory of a
 * program whose threads all sleep must still come back, and work done on
 * allocation slow paths would never run then. It wakes every 100 ms and
 * is paced by a token bucket: it earns 1% of a core of work time and may
 * spend it in bursts of up to 200 ms, so it costs about 1% of one core on
 * average, yet a large drop in the heap goes back within a second or two
 * (releasing costs about 80 us per MiB here). Heap-lock hold times stay
 * short: pages are released a few MiB at a time.
 *
 * Huge pages. We leave transparent huge pages to the kernel's default and
 * call no MADV_HUGEPAGE / NOHUGEPAGE. Releasing from the top of the heap,
 * and only above the recent peak, means the dense, hot bottom of the heap
 * is not carved up to release a page here and there; a chunk is released
 * only when the whole heap has shrunk well below what it recently used.
 * Go's extra rule of skipping chunks that were dense in the last cycle
 * is not implemented. */
#include "scavenger.h"

#include "error.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"
#include "os.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

gm_scav_options_t gm_scav_options = {.margin_pct = 10};
uint32_t gm_scav_epoch;
size_t gm_scav_span_bytes;

#define TICK_NS 100000000ULL      /* 100 ms between wake-ups */
#define WINDOW_TICKS 5            /* "recent" peak: the last half second */
#define COLD_TICKS 5              /* a partial span idle this long is cold */
#define CREDIT_PER_TICK_NS 1000000ULL /* 1% of TICK_NS */
#define CREDIT_MAX_NS 200000000ULL    /* burst: up to 200 ms of work */
#define START_BYTES ((size_t)16 << 20)
#define BATCH_BYTES ((size_t)4 << 20) /* per heap-lock hold */

static int started;

static size_t parse_size(const char *v) {
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  switch (*end) {
  case 'k': case 'K': n <<= 10; break;
  case 'm': case 'M': n <<= 20; break;
  case 'g': case 'G': n <<= 30; break;
  default: break;
  }
  return (size_t)n;
}

void gm_scavenger_read_options(void) {
  const char *v = getenv("GOMALLOC_SCAVENGER");
  if (v && (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0))
    gm_scav_options.off = true;
  v = getenv("GOMALLOC_SCAVENGER_MARGIN");
  if (v && *v)
    gm_scav_options.margin_pct = (unsigned)strtoul(v, NULL, 10);
  v = getenv("GOMALLOC_RETAIN_MAX");
  if (v && *v)
    gm_scav_options.retain_max = parse_size(v);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void release_range(uintptr_t base, size_t len) { gm_sys_unused((void *)base, len); }

/* Backed bytes the heap holds: mapped, less what the page allocator knows
 * is released, less the free slots released inside spans. Heap lock. */
static size_t retained_locked(void) {
  size_t scav = gm_pagealloc_scavenged_pages(&gm_heap.pages) << GM_PAGE_SHIFT;
  size_t spans = gm_load_relaxed(&gm_scav_span_bytes);
  size_t r = gm_heap.mapped_bytes;
  r = r > scav ? r - scav : 0;
  return r > spans ? r - spans : 0;
}

static size_t inuse_locked(void) {
  return (gm_heap.small_pages + gm_heap.large_pages) << GM_PAGE_SHIFT;
}

size_t gm_scavenge_span_locked(gm_mspan_t *s) {
  if (s->released)
    return 0;
  size_t ps = gm_sys_page_size();
  size_t n = s->nelems, released = 0, i = 0;
  while (i < n) {
    /* A slot is free if not allocated, or freed by a remote free that no
     * sweep has folded in yet (its owner is done with it either way). */
#define SLOT_FREE(k)                                                                               \
  (!((*gm_span_abits(s, (k) / 64) & ~gm_load_relaxed(gm_span_rfree(s, (k) / 64))) >> ((k) % 64) & 1))
    while (i < n && !SLOT_FREE(i))
      i++;
    size_t start = i;
    while (i < n && SLOT_FREE(i))
      i++;
#undef SLOT_FREE
    if (i == start)
      break;
    uintptr_t lo = GM_ALIGN_UP(s->base + start * s->elemsize, ps);
    uintptr_t hi = GM_ALIGN_DOWN(s->base + i * s->elemsize, ps);
    if (hi > lo) {
      gm_sys_unused((void *)lo, hi - lo);
      released += hi - lo;
    }
  }
  if (released) {
    s->released = (uint32_t)released;
    gm_fetch_add_relaxed(&gm_scav_span_bytes, released);
  }
  return released;
}

void gm_scavenge_span_reused(gm_mspan_t *s) {
  if (s->released) {
    gm_fetch_sub_relaxed(&gm_scav_span_bytes, (size_t)s->released);
    s->released = 0;
  }
}

/* Release free slots of cold partial spans (all of them if force). */
static size_t scavenge_spans(bool force, uint64_t deadline) {
  size_t total = 0;
  uint32_t epoch = gm_load_relaxed(&gm_scav_epoch);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_mcentral_t *mc = &gm_central[i];
    if (!gm_load_relaxed(&mc->partial.n))
      continue;
    gm_lock(&mc->lock);
    for (gm_mspan_t *s = mc->partial.head; s; s = s->next)
      if (!s->released && (force || epoch - s->partial_epoch >= COLD_TICKS))
        total += gm_scavenge_span_locked(s);
    gm_unlock(&mc->lock);
    if (deadline && now_ns() > deadline)
      break;
  }
  return total;
}

/* Release up to want bytes of free heap pages, a batch per lock hold. */
static size_t scavenge_heap(size_t want, uint64_t deadline) {
  size_t total = 0;
  while (total < want) {
    size_t ask = want - total < BATCH_BYTES ? want - total : BATCH_BYTES;
    gm_lock(&gm_heap.lock);
    size_t n = gm_pagealloc_scavenge(&gm_heap.pages, ask, release_range);
    gm_unlock(&gm_heap.lock);
    total += n;
    if (n < ask || (deadline && now_ns() > deadline))
      break;
  }
  return total;
}

void gm_scavenger_enforce_limit_locked(void) {
  size_t lim = gm_scav_options.retain_max;
  if (!lim)
    return;
  size_t r = retained_locked();
  if (r > lim)
    gm_pagealloc_scavenge(&gm_heap.pages, r - lim, release_range);
}

size_t gm_scavenge_all(void) {
  size_t n = scavenge_spans(true, 0);
  return n + scavenge_heap(SIZE_MAX, 0);
}

static void *scavenger_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  size_t window[WINDOW_TICKS] = {0};
  uint64_t credit = CREDIT_MAX_NS;
  for (uint32_t tick = 0;; tick++) {
    struct timespec ts = {0, (long)TICK_NS};
    nanosleep(&ts, NULL);
    gm_store_relaxed(&gm_scav_epoch, tick + 1);
    credit += CREDIT_PER_TICK_NS;
    if (credit > CREDIT_MAX_NS)
      credit = CREDIT_MAX_NS;
    if (gm_load_relaxed(&gm_scav_options.off))
      continue;

    gm_lock(&gm_heap.lock);
    size_t inuse = inuse_locked(), retained = retained_locked();
    gm_unlock(&gm_heap.lock);
    window[tick % WINDOW_TICKS] = inuse;
    size_t peak = 0;
    for (int i = 0; i < WINDOW_TICKS; i++)
      if (window[i] > peak)
        peak = window[i];
    size_t target = peak + peak / 100 * gm_scav_options.margin_pct;
    if (gm_scav_options.retain_max && target > gm_scav_options.retain_max)
      target = gm_scav_options.retain_max;

    if (credit == 0)
      continue;
    uint64_t t0 = now_ns(), deadline = t0 + credit;
    if (retained > target + (1u << 20))
      scavenge_heap(retained - target, deadline);
    /* Caches of threads idle for two rounds, then cold partial spans,
     * twice a second. */
    if (tick % COLD_TICKS == 0 && now_ns() < deadline) {
      gm_mcache_reclaim_idle(false);
      scavenge_spans(false, deadline);
    }
    uint64_t spent = now_ns() - t0;
    credit = spent < credit ? credit - spent : 0;
  }
  return NULL;
}

void gm_scavenger_poke(void) {
  if (gm_scav_options.off || gm_load_relaxed(&started))
    return;
  if (gm_load_relaxed(&gm_heap.mapped_bytes) < START_BYTES)
    return;
  int expected = 0;
  if (!__atomic_compare_exchange_n(&started, &expected, 1, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_RELAXED))
    return;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 << 10);
  if (pthread_create(&t, &attr, scavenger_main, NULL) != 0)
    gm_store_relaxed(&started, 0); /* try again at the next poke */
  else
    pthread_setname_np(t, "gomalloc-scav");
  pthread_attr_destroy(&attr);
}

void gm_scavenger_after_fork_child(void) {
  /* The thread did not survive the fork; the next growth restarts it. */
  gm_store_relaxed(&started, 0);
}
