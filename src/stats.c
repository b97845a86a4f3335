/* stats.c: the heap census, gm_stats and the report at exit (see stats.h
 * and include/gomalloc-stats.h; the printers are in statsprint.c).
 *
 * Nothing here is maintained on the fast paths. The numbers come from:
 *   - a walk over every in-use span (arena page_in_use bits), reading each
 *     span's bitmaps: objects in use, free slots, spans by state;
 *   - the counts sweeps keep (per mcache, and gm_class_counts for sweeps
 *     under a central lock and for exited threads): objects handed out
 *     and freed up to each span's last sweep. The walk adds what happened
 *     since (slots below freeindex not yet counted, free bits not yet
 *     folded in), so
 *     allocs - frees equals the live objects exactly when threads are
 *     quiescent;
 *   - the mheap and page allocator counters;
 *   - a per-class sample of request sizes, taken on the malloc slow path
 *     (per mcache), for rounding waste (Go's memory profile works the same
 *     way: a sample of allocations, scaled up).
 * The walk holds every central lock and the heap lock, as the census does.
 * The report at exit writes with write(2) and calls no malloc. */
#include "stats.h"

#include "arena.h"
#include "error.h"
#include "gomalloc.h"
#include "heapdump.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"
#include "options.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(GM_STATS_NUM_CLASSES == GM_NUM_CLASSES, "public class count out of date");

/* ---- span bitmaps ---------------------------------------------------------------- */

void gm_stats_span_word(gm_mspan_t *s, unsigned w, size_t fi, uint64_t *used,
                        uint64_t *pending) {
  uint64_t m = gm_load_relaxed(gm_span_abits(s, w));
  size_t lo = (size_t)w * 64;
  if (fi >= lo + 64)
    m = ~0ULL;
  else if (fi > lo)
    m |= (1ULL << (fi - lo)) - 1;
  unsigned tail = (unsigned)s->nelems & 63;
  if (w == (unsigned)s->nwords - 1u && tail)
    m &= ~(~0ULL << tail);
  uint64_t f = gm_load_relaxed(gm_span_lfree(s, w)) | gm_load_relaxed(gm_span_rfree(s, w));
  *used = m;
  *pending = f & m;
}

/* Live objects of a small span: allocated minus freed but not yet swept. */
static size_t span_live(gm_mspan_t *s) {
  size_t fi = gm_load_relaxed(&s->freeindex), n = 0;
  for (unsigned w = 0; w < s->nwords; w++) {
    uint64_t used, pend;
    gm_stats_span_word(s, w, fi, &used, &pend);
    n += gm_popcount64(used & ~pend);
  }
  return n;
}

double gm_stats_max_waste(unsigned cls) {
  if (cls == 0 || cls >= gm_sizeclass_nclasses)
    return 0; /* large, or past a loaded table's last class */
  double span = (double)gm_class_to_allocnpages[cls] * (double)GM_PAGE_SIZE;
  unsigned size = gm_class_to_size[cls], prev = gm_class_to_size[cls - 1];
  unsigned n = gm_class_to_nelems[cls];
  double tail = span - (double)n * size;
  /* Every object holds a request one byte above the previous class. */
  return 100.0 * ((double)(size - prev - 1) * n + tail) / span;
}

/* ---- the census --------------------------------------------------------------------- */

static void census_span(gm_mspan_t *s, void *arg) {
  gm_census_t *c = arg;
  c->span_pages += s->npages;
  uint8_t st = s->state;
  if (st == GM_SPAN_GC || st == GM_SPAN_GC_LARGE)
    return; /* the collected heap's (gc.h); gm_gc_stats describes them */
  if (st == GM_SPAN_LARGE) {
    c->large_spans++;
    c->live_objects++;
    c->live_bytes += s->elemsize;
    c->live_by_class[0]++;
    return;
  }
  c->small_spans++;
  if (st == GM_SPAN_CACHED)
    c->cached_spans++;
  else if (st == GM_SPAN_PARTIAL)
    c->partial_spans++;
  else if (st == GM_SPAN_FULL)
    c->full_spans++;
  else {
    /* Dead with its pages in use: an mcentral let it go under its lock
     * and frees it to the heap under the heap lock, a moment later. The
     * census tries again (gm_heap_census). */
    c->dying++;
    return;
  }
  size_t live = span_live(s);
  c->live_objects += live;
  c->live_bytes += live * s->elemsize;
  c->live_by_class[gm_spanclass_sizeclass(s->spanclass)] += live;
  const char *err = gm_span_check(s);
  if (err && !c->error)
    c->error = err;
}

static void census_once(gm_census_t *c);

void gm_heap_census(gm_census_t *c) {
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    gm_init();
  /* A span in flight to the heap is there within microseconds; one that
   * stays dead with its pages in use for a second is a leak. */
  for (int tries = 0;; tries++) {
    census_once(c);
    if (!c->dying || c->error)
      return;
    if (tries == 1000) {
      c->error = "in-use page bit on a dead span";
      return;
    }
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static void census_once(gm_census_t *c) {
  memset(c, 0, sizeof *c);
  c->mcaches = gm_mcache_count();
  gm_mcentral_lock_all();
  gm_lock(&gm_heap.lock);
  c->arenas = gm_arena_count();
  if (gm_arena_for_each_span(census_span, c) && !c->error)
    c->error = "page_in_use bit without a span starting there";
  c->total_pages = gm_pagealloc_total_pages(&gm_heap.pages);
  c->free_pages = gm_pagealloc_free_pages(&gm_heap.pages);
  c->scav_pages = gm_pagealloc_scavenged_pages(&gm_heap.pages);
  if (!c->error && c->span_pages + c->free_pages != c->total_pages)
    c->error = "span pages + free pages != pages in the heap";
  if (!c->error && c->span_pages != gm_heap.small_pages + gm_heap.large_pages)
    c->error = "span pages disagree with the heap counters";
  if (!c->error)
    c->error = gm_pagealloc_check(&gm_heap.pages);
  gm_unlock(&gm_heap.lock);
  gm_mcentral_unlock_all();
}

/* ---- gm_stats ----------------------------------------------------------------------- */

typedef struct walk {
  struct gm_stats *st;
  /* Allocations and frees since each span's last sweep, signed because a
   * span swept by its owner during the walk can make them dip. */
  int64_t pend_alloc[GM_NUM_CLASSES], pend_free[GM_NUM_CLASSES];
  uint64_t dying_pages;
} walk_t;

static void stats_span(gm_mspan_t *s, void *arg) {
  walk_t *wk = arg;
  struct gm_stats *st = wk->st;
  uint8_t state = gm_load_relaxed(&s->state);
  if (state == GM_SPAN_LARGE) {
    struct gm_class_stats *cs = &st->classes[0];
    cs->spans++;
    cs->objects++;
    cs->in_use_bytes += (uint64_t)s->npages << GM_PAGE_SHIFT;
    st->large_spans++;
    return;
  }
  if (state == GM_SPAN_GC || state == GM_SPAN_GC_LARGE)
    return; /* in use by the collected heap (gc.h), in no class count */
  if (state < GM_SPAN_CACHED || state > GM_SPAN_FULL) {
    /* Marked dead by its mcentral, on its way back to the heap (the
     * heap lock is taken after the central lock is dropped): its pages
     * are free in all but name. */
    wk->dying_pages += s->npages;
    return;
  }
  unsigned cls = gm_spanclass_sizeclass(s->spanclass);
  struct gm_class_stats *cs = &st->classes[cls];
  size_t fi = gm_load_relaxed(&s->freeindex);
  unsigned used = 0, pend = 0;
  for (unsigned k = 0; k < s->nwords; k++) {
    uint64_t u, p;
    gm_stats_span_word(s, k, fi, &u, &p);
    used += gm_popcount64(u);
    pend += gm_popcount64(p);
  }
  cs->spans++;
  st->released_slot_bytes += gm_span_released_bytes(s, gm_sys_page_size());
  cs->objects += used - pend;
  cs->free_objects += s->nelems - (used - pend);
  wk->pend_alloc[cls] += (int64_t)used - (int64_t)gm_load_relaxed(&s->alloc_count);
  wk->pend_free[cls] += pend;
  st->small_spans++;
  if (state == GM_SPAN_CACHED)
    st->cached_spans++;
  else if (state == GM_SPAN_PARTIAL)
    st->partial_spans++;
  else
    st->full_spans++;
}

static uint64_t add_signed(uint64_t base, int64_t d) {
  if (d < 0 && (uint64_t)-d > base)
    return 0;
  return base + (uint64_t)d;
}

/* Fill a whole struct (the caller copies out the prefix it knows). */
static void lock_central_and_heap(void) {
  gm_mcentral_lock_all();
  gm_lock(&gm_heap.lock);
}

static void stats_fill(struct gm_stats *st) {
  walk_t wk;
  memset(st, 0, sizeof *st);
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    gm_init();
  st->version = GM_STATS_VERSION;
  st->threads = gm_mcache_count();
  uint64_t large_allocs, large_frees, meta = 0;
  /* The counters and the span walk under the same central locks: a sweep
   * (by the background thread, say) moves a span's frees into the counters,
   * and between a read of the counters and a later walk it was counted in
   * neither (the fuzzer found allocs - frees != objects; see
   * unit.test_stats_sweep_race). The registry lock ranks before the central
   * locks, so sum_counts takes them for us once it holds it. */
  uint64_t cnt_malloc[GM_NUM_SPAN_CLASSES] = {0}, cnt_free[GM_NUM_SPAN_CLASSES] = {0};
  uint64_t smp_n[GM_NUM_CLASSES] = {0}, smp_bytes[GM_NUM_CLASSES] = {0};
  gm_mcache_sum_counts(cnt_malloc, cnt_free, smp_n, smp_bytes, lock_central_and_heap);
  memset(&wk, 0, sizeof wk);
  wk.st = st;
  st->arenas = gm_arena_count();
  gm_arena_for_each_span(stats_span, &wk);
  uint64_t counts[GM_NUM_CLASSES][2] = {{0}};
  for (unsigned spc = 0; spc < GM_NUM_SPAN_CLASSES; spc++) {
    counts[spc >> 1][0] += cnt_malloc[spc];
    counts[spc >> 1][1] += cnt_free[spc];
  }
  uint64_t total_pages = gm_pagealloc_total_pages(&gm_heap.pages);
  uint64_t free_pages = gm_pagealloc_free_pages(&gm_heap.pages);
  uint64_t scav_pages = gm_pagealloc_scavenged_pages(&gm_heap.pages);
  st->reserved_bytes = gm_heap.reserved_bytes;
  large_allocs = gm_heap.large_allocs;
  large_frees = gm_heap.large_frees;
  for (unsigned b = 0; b < GM_SPAN_BUCKETS; b++)
    meta += gm_heap.spanalloc[b].sys_bytes;
  meta += gm_heap.pages.meta_bytes;
  gm_unlock(&gm_heap.lock);
  gm_mcentral_unlock_all();

  size_t ps = gm_sys_page_size();
  meta += st->arenas * GM_ALIGN_UP(GM_ARENA_META_BYTES, ps);
  size_t cache = sizeof(gm_mcache_t) + GM_HOT_ALL_BYTES;
  meta += (st->threads + 1) * GM_ALIGN_UP(cache, (size_t)GM_CACHE_LINE);
  st->metadata_bytes = meta;
  st->mapped_bytes = total_pages << GM_PAGE_SHIFT;
  st->free_bytes = (free_pages + wk.dying_pages) << GM_PAGE_SHIFT;
  st->released_bytes = scav_pages << GM_PAGE_SHIFT;
  st->resident_bytes = gm_sys_rss();

  for (unsigned c = 0; c < GM_NUM_CLASSES; c++) {
    struct gm_class_stats *cs = &st->classes[c];
    if (c == 0) {
      cs->span_bytes = cs->in_use_bytes;
      cs->allocs = large_allocs;
      cs->frees = large_frees;
    } else {
      cs->size = gm_class_to_size[c];
      cs->span_size = (uint64_t)gm_class_to_allocnpages[c] * GM_PAGE_SIZE;
      cs->objects_per_span = gm_class_to_nelems[c];
      cs->tail_waste = cs->span_size - cs->objects_per_span * cs->size;
      cs->max_waste = gm_stats_max_waste(c);
      cs->in_use_bytes = cs->objects * cs->size;
      cs->span_bytes = cs->spans * cs->span_size;
      cs->allocs = add_signed(counts[c][0], wk.pend_alloc[c]);
      cs->frees = add_signed(counts[c][1], wk.pend_free[c]);
      cs->tail_waste_bytes = cs->spans * cs->tail_waste;
      cs->samples = smp_n[c];
      cs->sampled_request_bytes = smp_bytes[c];
      /* Scale the sample's mean rounding loss up to the live objects. */
      if (cs->samples) {
        double lost = (double)cs->size - (double)cs->sampled_request_bytes / (double)cs->samples;
        if (lost > 0)
          cs->rounding_waste_bytes = (uint64_t)(lost * (double)cs->objects + 0.5);
        if (cs->rounding_waste_bytes > cs->in_use_bytes)
          cs->rounding_waste_bytes = cs->in_use_bytes;
      }
    }
    st->span_bytes += cs->span_bytes;
    st->object_bytes += cs->in_use_bytes;
    st->free_slot_bytes += cs->free_objects * cs->size;
    st->tail_waste_bytes += cs->tail_waste_bytes;
    st->rounding_waste_bytes += cs->rounding_waste_bytes;
    st->objects += cs->objects;
    st->allocs += cs->allocs;
    st->frees += cs->frees;
  }
  st->requested_bytes = st->object_bytes - st->rounding_waste_bytes;
  st->spans = st->small_spans + st->large_spans;
}

GM_API int gm_stats(struct gm_stats *st) {
  if (!st || st->size < 8) {
    errno = EINVAL;
    return -1;
  }
  size_t want = st->size;
  if (want >= sizeof *st) {
    stats_fill(st);
    st->size = (uint32_t)sizeof *st;
    return 0;
  }
  /* An older caller: fill a whole struct and copy out what it knows. The
   * struct is too big for some thread stacks, so it lives in mapped memory. */
  struct gm_stats *full = gm_sys_alloc(sizeof *full);
  if (!full)
    return -1;
  stats_fill(full);
  full->size = (uint32_t)want;
  memcpy(st, full, want);
  gm_sys_free(full, GM_ALIGN_UP(sizeof *full, gm_sys_page_size()));
  return 0;
}

/* ---- GOMALLOC_STATS / GOMALLOC_HEAPMAP ---------------------------------------------- */

enum { STATS_OFF = GM_OPT_STATS_OFF, STATS_TEXT = GM_OPT_STATS_TEXT,
       STATS_JSON = GM_OPT_STATS_JSON };
static int stats_mode;
static const char *const stats_file = gm_options.stats_file;
static const char *const heapmap_file = gm_options.heapmap_file;
/* A copy of stderr taken at start: programs such as coreutils close
 * stderr in their own exit handlers, before the report is written. Its
 * identity is kept to notice a program that closed it and reused the
 * number for a file of its own. */
static int report_fd = -1;
static dev_t report_dev;
static ino_t report_ino;
/* GOMALLOC_REPORT_PID (set by `gomalloc run`): only that process reports,
 * not the helpers it forks; 0 = every process. */
static long report_pid;

void gm_stats_env_init(void) {
  stats_mode = gm_options.stats;
  report_pid = (long)gm_options.report_pid;
  struct stat sb;
  if ((stats_mode != STATS_OFF || heapmap_file[0]) && fstat(2, &sb) == 0) {
    report_fd = fcntl(2, F_DUPFD_CLOEXEC, 10);
    report_dev = sb.st_dev;
    report_ino = sb.st_ino;
  }
}

/* Where the report goes: the copy of stderr if it is still the same file,
 * else whatever fd 2 is now. */
static int report_out(void) {
  struct stat sb;
  if (report_fd >= 0 && fstat(report_fd, &sb) == 0 && sb.st_dev == report_dev &&
      sb.st_ino == report_ino)
    return report_fd;
  return 2;
}

/* A file name with %p replaced by the pid (and %% by %). */
static void expand_pid(char *out, size_t n, const char *in) {
  char pid[24];
  size_t pl = gm_fmt_dec(pid, (size_t)getpid()), o = 0;
  for (const char *p = in; *p && o + 1 < n; p++) {
    if (p[0] == '%' && p[1] == 'p' && o + pl + 1 < n) {
      memcpy(out + o, pid, pl);
      o += pl;
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      out[o++] = '%';
      p++;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = 0;
}

/* Runs at exit (after main's own destructors, since the library was
 * loaded first): the heap still works, and no allocator lock is held by
 * this thread here. */
__attribute__((destructor)) static void stats_at_exit(void) {
  char path[1100];
  if (stats_mode == STATS_OFF && !heapmap_file[0])
    return;
  if (report_pid > 0 && (long)getpid() != report_pid)
    return;
  int saved = errno;
  int msg = report_out();
  if (heapmap_file[0]) {
    expand_pid(path, sizeof path, heapmap_file);
    gm_heapdump_at_exit(path, msg);
  }
  if (stats_mode != STATS_OFF) {
    int fd = msg;
    if (stats_file[0]) {
      expand_pid(path, sizeof path, stats_file);
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd < 0) {
        gm_fdout_t o = {.fd = msg};
        const char *parts[] = {"gomalloc: cannot open ", path, ": ", strerror(errno), "\n"};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
          gm_fdout_write(&o, parts[i], strlen(parts[i]));
        gm_fdout_flush(&o);
      }
    }
    if (fd >= 0) {
      if (stats_mode == STATS_JSON)
        gm_print_stats_json_fd(fd);
      else
        gm_print_stats_fd(fd);
      if (fd != msg)
        close(fd);
    }
  }
  errno = saved;
}
