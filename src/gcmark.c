/* gcmark.c: marking (Go's mgcmark.go: scanConservative, findObject,
 * greyobject, and gcDrain's work sharing), with the world stopped.
 *
 * A candidate word is first checked against the bounds of every GC span
 * (one subtraction and compare: most words of a stack or a data segment
 * are not heap addresses), then looked up as free looks a pointer up (the
 * window, else the arena map), and must land in a GC span, inside an
 * allocated slot (Go's isFree: below freeindex or set in allocBits) that
 * was not freed by gm_gc_free. Any byte of a block keeps it: the slot
 * index comes from divMul, so interior pointers cost nothing more. The
 * mark bit is set, and the block pushed on the marker's stack unless its
 * span is noscan (Go's greyobject: noscan objects are black at once).
 *
 * Parallel marking (Boehm 8.2 marks with one thread per core; Go with its
 * gcBgMarkWorkers). The collector is marker 0; GOMALLOC_GC_MARKERS - 1
 * helper threads (default: one marker per CPU we may run on, at most
 * GM_GC_MAX_MARKERS) are created before the first stop, parked on a futex
 * between cycles and woken when a mark begins. Each marker drains a stack
 * of its own, unsynchronised. Work moves through one shared pool under a
 * spin lock, as Go's gcWork.balance hands work to the global queue: a
 * marker that runs dry counts itself idle, and a busy marker that sees an
 * idle one while the pool is empty moves the bottom half of its stack
 * there (the oldest entries: in a depth-first walk, the biggest subtrees).
 * Large blocks are scanned in GM_GC_MARK_CHUNK pieces, the rest pushed
 * back first, so that another marker can take it (Boehm splits them too).
 * The mark is over when no marker holds work: nbusy is decremented only
 * under the pool lock with the pool empty, and incremented only there by
 * a marker taking from it, so nbusy == 0 is final.
 *
 * Mark bytes. Markers setting bits of one word at once would lose some to
 * a plain OR, and an atomic OR costs the mark loop 40% (it waits for every
 * load before it: GCBench, one marker, 204 -> 242 ms task-clock). So with
 * helpers the mark sets bytes, as Boehm does when it marks in parallel:
 * the first marker to mark in a span takes nelems bytes of a scratch area
 * for it (a bump pointer, and a CAS on the span's claim word, the extra
 * word after its mark bits) and logs the span; a byte store needs no
 * atomic OR, and two markers storing the same byte at once scan the block
 * twice, harmlessly (Go's greyobject uses atomic.Or8 instead). When the
 * mark is over the collector packs each logged span's bytes into its mark
 * bits (eight bytes per multiply) and clears them. The scratch area is
 * sized before the world stops (heap_bytes / 8 covers every slot), is
 * mapped and kept, and only its used part is touched. A collector marking
 * alone sets bits, plainly. Large blocks' one bit takes an atomic OR.
 *
 * Stacks and the pool are mapped (never malloc'd: a stopped thread may
 * hold malloc's locks), double when full, and are kept between cycles. */
#include "gc.h"

#include "error.h"
#include "options.h"
#include "os.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Bytes of a block scanned before the rest is pushed back for others. */
#define GM_GC_MARK_CHUNK 4096
/* At most this many entries move to or from the pool at once. */
#define SHARE_MAX 512

typedef struct marker {
  gm_gc_range_t *stk;
  size_t n, cap;
  size_t marked; /* bytes marked since last added to marked_total */
  pthread_t thread;
} __attribute__((aligned(64))) marker_t;

static marker_t markers[GM_GC_MAX_MARKERS]; /* [0]: the collector */
static bool started;                        /* helpers created (gm_gc.lock) */
static unsigned nhelpers;                   /* helper threads running (gm_gc.lock) */
static bool parallel;                       /* helpers mark this cycle: mark bytes */
static bool no_interior;                    /* GM_GC_NOROOT_INTERIOR (tests) */

/* Mark bytes (parallel marks): the scratch area, the spans that took a
 * part of it this cycle, and their counts. */
static uint8_t *mbytes;
static size_t mbytes_cap, mlog_cap;
static gm_mspan_t **mlog;
static size_t mbytes_used __attribute__((aligned(64)));
static size_t mlog_n __attribute__((aligned(64)));

/* The shared pool and the termination counts, each on a line of its own. */
static struct {
  uint32_t lock;
  gm_gc_range_t *v;
  size_t n, cap; /* n: written under lock, read racily as a hint */
} pool __attribute__((aligned(64)));
static uint32_t nbusy __attribute__((aligned(64))); /* markers holding work */
static uint32_t nidle __attribute__((aligned(64))); /* markers looking for it */
static uint32_t wake_gen __attribute__((aligned(64))); /* futex: a mark began */
static size_t marked_total;

static long futex(uint32_t *addr, int op, uint32_t val) {
  return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

GM_INLINE void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Held for a copy of at most SHARE_MAX entries: spin, yield if it lasts
 * (the holder may have lost its CPU). */
static void pool_lock(void) {
  for (unsigned i = 0; __atomic_exchange_n(&pool.lock, 1u, __ATOMIC_ACQUIRE); i++) {
    while (gm_load_relaxed(&pool.lock)) {
      cpu_relax();
      if (++i > 200)
        sched_yield();
    }
  }
}
static void pool_unlock(void) { gm_store_release(&pool.lock, 0u); }

static gm_gc_range_t *grow_vec(gm_gc_range_t *v, size_t n, size_t *cap) {
  size_t c = *cap ? 2 * *cap : 4096;
  gm_gc_range_t *w = gm_sys_alloc(c * sizeof *w);
  if (!w)
    return NULL;
  if (n)
    memcpy(w, v, n * sizeof *w);
  if (v)
    gm_sys_free(v, GM_ALIGN_UP(*cap * sizeof *w, gm_sys_page_size()));
  *cap = c;
  return w;
}

static GM_NOINLINE void grow(marker_t *mk) {
  gm_gc_range_t *v = grow_vec(mk->stk, mk->n, &mk->cap);
  if (!v)
    gm_fatal("gm_gc: cannot grow the mark stack", NULL, "out of memory");
  mk->stk = v;
}

GM_INLINE void push(marker_t *mk, uintptr_t lo, uintptr_t hi) {
  if (GM_UNLIKELY(mk->n == mk->cap))
    grow(mk);
  mk->stk[mk->n++] = (gm_gc_range_t){lo, hi};
}

/* The first marker to mark in s this cycle takes its bytes; one racing
 * with it waits the few instructions until they are there (no bytes are
 * taken twice, so the scratch area sized for every slot is enough). */
#define CLAIMING UINT64_MAX
static GM_NOINLINE uint8_t *claim_bytes(gm_mspan_t *s, uint64_t *cw) {
  uint64_t seen = 0;
  if (__atomic_compare_exchange_n(cw, &seen, CLAIMING, false, __ATOMIC_ACQUIRE,
                                  __ATOMIC_ACQUIRE)) {
    size_t n = GM_ALIGN_UP((size_t)s->nelems, 16);
    size_t off = __atomic_fetch_add(&mbytes_used, n, __ATOMIC_RELAXED);
    if (off + n > mbytes_cap)
      gm_fatal("gm_gc: mark bytes exhausted", (void *)s->base, "sized before the stop");
    mlog[__atomic_fetch_add(&mlog_n, 1, __ATOMIC_RELAXED)] = s;
    gm_store_release(cw, (uint64_t)off + 1);
    return mbytes + off;
  }
  while (seen == CLAIMING) {
    cpu_relax();
    seen = gm_load_acquire(cw);
  }
  return mbytes + (seen - 1);
}

/* Word 0: no bytes yet this cycle; CLAIMING: being taken; else offset + 1. */
GM_INLINE uint8_t *span_bytes(gm_mspan_t *s) {
  uint64_t *cw = &s->gcmark_bits[GM_MAX_BITMAP_WORDS];
  uint64_t w = gm_load_relaxed(cw);
  return GM_LIKELY(w + 1 > 1) ? mbytes + (w - 1) : claim_bytes(s, cw);
}

/* findObject + greyobject for candidate v (inside the GC bounds): the
 * window's one load (else the arena map), the mark bit first (a marked
 * slot is live: most candidates in a linked structure are seen twice),
 * then Go's isFree. */
GM_INLINE void mark_candidate(marker_t *mk, uintptr_t v) {
  size_t page = gm_window_page(v);
  gm_mspan_t *s =
      GM_LIKELY(page < GM_WINDOW_PAGES) ? gm_load_relaxed(&gm_window_spans[page]) : gm_span_of(v);
  if (!s)
    return;
  uint8_t st = gm_load_relaxed(&s->state);
  if (st == GM_SPAN_GC) {
    uintptr_t off = v - s->base;
    if (off >= (s->npages << GM_PAGE_SHIFT))
      return;
    size_t idx = gm_span_obj_index(s, off);
    if (idx >= s->nelems)
      return;
    uint8_t *b = NULL;
    uint64_t *m = &s->gcmark_bits[idx / 64], bit = 1ULL << (idx % 64);
    if (parallel) {
      b = span_bytes(s) + idx;
      if (gm_load_relaxed(b))
        return;
    } else if (*m & bit) {
      return;
    }
    if (!gm_gc_slot_live(s, idx) || (GM_UNLIKELY(no_interior) && idx * s->elemsize != off))
      return;
    if (b) {
      gm_store_relaxed(b, (uint8_t)1); /* counted when packed */
    } else {
      *m |= bit;
      mk->marked += s->elemsize;
    }
    if (gm_gc_kind(s) != GM_GC_NOSCAN) {
      uintptr_t obj = s->base + idx * s->elemsize;
      push(mk, obj, obj + s->elemsize);
    }
  } else if (st == GM_SPAN_GC_LARGE) {
    if (v - s->base >= s->elemsize || (gm_load_relaxed(&s->gcmark_bits[0]) & 1) ||
        (no_interior && v != s->base))
      return;
    if (parallel ? (__atomic_fetch_or(&s->gcmark_bits[0], 1, __ATOMIC_RELAXED) & 1)
                 : (s->gcmark_bits[0] |= 1, false))
      return;
    mk->marked += s->elemsize;
    if (gm_gc_kind(s) != GM_GC_NOSCAN)
      push(mk, s->base, s->base + s->elemsize);
  }
}

/* Other threads' stacks and any data segment: reads the sanitizers would
 * flag (redzones, racy words of stopped threads) are what a conservative
 * scan does. */
#if defined(__clang__) || __GNUC__ >= 8
#define NOSAN __attribute__((no_sanitize("address", "thread")))
#else
#define NOSAN
#endif
NOSAN static void scan_range(marker_t *mk, uintptr_t lo, uintptr_t hi) {
  uintptr_t glo = gm_gc.lo, gext = gm_gc.hi - gm_gc.lo;
  lo = GM_ALIGN_UP(lo, sizeof(uintptr_t));
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
    uintptr_t v = *(const volatile uintptr_t *)p;
    if (v - glo < gext)
      mark_candidate(mk, v);
  }
}

/* An idle marker waits and the pool is empty: the bottom half of this
 * marker's stack goes there. */
static GM_NOINLINE void share(marker_t *mk) {
  size_t k = mk->n / 2;
  if (k > SHARE_MAX)
    k = SHARE_MAX;
  pool_lock();
  if (pool.n + k > pool.cap) {
    gm_gc_range_t *v = grow_vec(pool.v, pool.n, &pool.cap);
    if (!v) {
      pool_unlock();
      return; /* keep the work: the mark is only slower */
    }
    pool.v = v;
  }
  memcpy(pool.v + pool.n, mk->stk, k * sizeof *mk->stk);
  gm_store_relaxed(&pool.n, pool.n + k);
  pool_unlock();
  memmove(mk->stk, mk->stk + k, (mk->n - k) * sizeof *mk->stk);
  mk->n -= k;
}

/* Blocks popped wait in a small FIFO, prefetched, before they are scanned
 * (Cher, Hosking and Vijaykumar's buffered prefetch, as Boehm prefetches
 * what it pushes): in a linked structure the next block is a cache miss,
 * and a depth-first pop would wait for each one in turn. */
#define PF 8
NOSAN static void drain(marker_t *mk) {
  gm_gc_range_t ring[PF];
  unsigned head = 0, cnt = 0;
  for (;;) {
    while (cnt < PF && mk->n) {
      if (GM_UNLIKELY(gm_load_relaxed(&nidle)) && parallel && mk->n > 1 &&
          !gm_load_relaxed(&pool.n))
        share(mk);
      gm_gc_range_t r = mk->stk[--mk->n];
      if (r.hi - r.lo > GM_GC_MARK_CHUNK) {
        push(mk, r.lo + GM_GC_MARK_CHUNK, r.hi);
        r.hi = r.lo + GM_GC_MARK_CHUNK;
      }
      __builtin_prefetch((const void *)r.lo);
      ring[(head + cnt++) % PF] = r;
    }
    if (!cnt)
      return;
    gm_gc_range_t r = ring[head];
    head = (head + 1) % PF;
    cnt--;
    scan_range(mk, r.lo, r.hi);
  }
}

/* Take up to half the pool (lock held, pool not empty). */
static void take_locked(marker_t *mk) {
  size_t k = (pool.n + 1) / 2;
  if (k > SHARE_MAX)
    k = SHARE_MAX;
  while (mk->n + k > mk->cap)
    grow(mk);
  memcpy(mk->stk + mk->n, pool.v + pool.n - k, k * sizeof *mk->stk);
  mk->n += k;
  gm_store_relaxed(&pool.n, pool.n - k);
}

/* mk ran dry: take from the pool and stay busy, or stop being busy. */
static bool retire_or_take(marker_t *mk) {
  gm_fetch_add_relaxed(&marked_total, mk->marked);
  mk->marked = 0;
  pool_lock();
  bool got = pool.n != 0;
  if (got)
    take_locked(mk);
  else
    __atomic_fetch_sub(&nbusy, 1u, __ATOMIC_RELEASE);
  pool_unlock();
  return got;
}

/* mk is not busy: wait for work in the pool (true, busy again) or for the
 * mark to end (false). */
static bool find_work(marker_t *mk) {
  bool got = false;
  __atomic_fetch_add(&nidle, 1u, __ATOMIC_SEQ_CST);
  for (unsigned spins = 0;; spins++) {
    if (gm_load_relaxed(&pool.n)) {
      pool_lock();
      if ((got = pool.n != 0)) {
        take_locked(mk);
        __atomic_fetch_add(&nbusy, 1u, __ATOMIC_RELAXED);
      }
      pool_unlock();
      if (got)
        break;
    }
    if (!gm_load_acquire(&nbusy))
      break;
    cpu_relax();
    if (spins > 4096)
      sched_yield(); /* a busy marker may be waiting for this CPU */
  }
  __atomic_fetch_sub(&nidle, 1u, __ATOMIC_RELAXED);
  return got;
}

/* Mark until nobody holds work. */
static void mark_loop(marker_t *mk) {
  do {
    do
      drain(mk);
    while (retire_or_take(mk));
  } while (find_work(mk));
}

/* ---- helper markers ------------------------------------------------------------ */

static void *helper_main(void *arg) {
  marker_t *mk = arg;
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    while ((g = gm_load_acquire(&wake_gen)) == seen)
      futex(&wake_gen, FUTEX_WAIT_PRIVATE, seen);
    seen = g;
    /* Late (the mark is over): nbusy is 0, find_work returns at once. */
    if (find_work(mk))
      mark_loop(mk);
  }
  return NULL;
}

static unsigned cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? (unsigned)n : 1;
}

/* Before the world stops (gm_gc.lock held): start the helpers the first
 * time. pthread_create may take locks (and malloc) that a stopped thread
 * could hold, so never with the world stopped. A helper that cannot be
 * created leaves the mark to fewer markers. */
/* Room for every slot's byte (elemsize >= 8) and every span's log entry,
 * mapped before the stop; false if the map failed (mark alone). */
static bool size_bytes(void) {
  size_t spans = gm_gc.heap_bytes / GM_PAGE_SIZE + 1;
  size_t need = gm_gc.heap_bytes / 8 + spans * 16;
  if (need > mbytes_cap) {
    size_t cap = GM_ALIGN_UP(need + need / 2, gm_sys_page_size());
    uint8_t *v = gm_sys_alloc(cap);
    if (!v)
      return false;
    if (mbytes)
      gm_sys_free(mbytes, mbytes_cap);
    mbytes = v;
    mbytes_cap = cap;
  }
  if (spans > mlog_cap) {
    size_t cap = GM_ALIGN_UP((spans + spans / 2) * sizeof *mlog, gm_sys_page_size());
    gm_mspan_t **v = gm_sys_alloc(cap);
    if (!v)
      return false;
    if (mlog)
      gm_sys_free(mlog, mlog_cap * sizeof *mlog);
    mlog = v;
    mlog_cap = cap / sizeof *mlog;
  }
  return true;
}

static void start_helpers(void);

/* Below this much live heap (after the last mark) the collector marks
 * alone: at the ~5 MB/ms GCBench marks at, such a mark takes ~50 us, about
 * what a helper needs to wake up (an estimate, not tuned). */
#define PARALLEL_MIN_LIVE ((size_t)256 << 10)

void gm_gc_mark_prepare(void) {
  if (!started)
    start_helpers();
  parallel = nhelpers > 0 && gm_gc.heap_marked >= PARALLEL_MIN_LIVE && size_bytes();
}

static void start_helpers(void) {
  started = true;
  unsigned want = (unsigned)gm_options.gc_markers;
  if (want == 0)
    want = cpus();
  if (want > GM_GC_MAX_MARKERS)
    want = GM_GC_MAX_MARKERS;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* helpers take no signals */
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, 256 << 10); /* no recursion in a marker */
  for (unsigned i = 1; i < want; i++) {
    if (pthread_create(&markers[i].thread, &a, helper_main, &markers[i]) != 0)
      break;
    pthread_setname_np(markers[i].thread, "gm-gc-mark");
    nhelpers++;
  }
  pthread_attr_destroy(&a);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The child of a fork has no helpers: start again at the next cycle (not
 * under TSan, which kills a child of a multi-threaded fork that starts a
 * thread: there the child marks alone). */
void gm_gc_mark_fork_child(void) {
#if defined(__SANITIZE_THREAD__)
  started = true;
#else
  started = false;
#endif
  nhelpers = 0;
  pool.lock = 0;
  pool.n = 0;
  nbusy = nidle = 0;
}

/* ---- the collector's side ------------------------------------------------------- */

void gm_gc_mark_begin(void) {
  marker_t *mk = &markers[0];
  mk->n = 0;
  mk->marked = 0;
  marked_total = 0;
  no_interior = gm_options.gc_test_noroots & GM_GC_NOROOT_INTERIOR;
  mbytes_used = mlog_n = 0;
  gm_store_release(&nbusy, 1u); /* the collector, until its roots are done */
  if (parallel) {
    __atomic_fetch_add(&wake_gen, 1u, __ATOMIC_RELEASE);
    futex(&wake_gen, FUTEX_WAKE_PRIVATE, INT32_MAX);
  }
}

void gm_gc_mark_object(uintptr_t p) { mark_candidate(&markers[0], p); }

NOSAN void gm_gc_scan_range(uintptr_t lo, uintptr_t hi) { scan_range(&markers[0], lo, hi); }

void gm_gc_drain(void) {
  drain(&markers[0]);
  if (!parallel) { /* after the mark (finalizers): counted here */
    gm_fetch_add_relaxed(&marked_total, markers[0].marked);
    markers[0].marked = 0;
  }
}

#if GM_DEBUG
/* Debug builds check the mark's closure after every mark: each pointer
 * found in a marked scanned block to a live slot must have marked it. A
 * mark bit lost to a race between markers, or a mark ended while a marker
 * still held work, shows up here, before the sweep frees a live block. */
static void verify_block(uintptr_t lo, uintptr_t hi) {
  uintptr_t glo = gm_gc.lo, gext = gm_gc.hi - gm_gc.lo;
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
    uintptr_t v = *(const uintptr_t *)p;
    if (v - glo >= gext)
      continue;
    gm_mspan_t *s = gm_span_of(v);
    uint8_t st = s ? gm_load_relaxed(&s->state) : 0;
    bool missed = false;
    if (st == GM_SPAN_GC && v - s->base < (s->npages << GM_PAGE_SHIFT)) {
      size_t idx = gm_span_obj_index(s, v - s->base);
      missed = idx < s->nelems && gm_gc_slot_live(s, idx) &&
               (!no_interior || idx * s->elemsize == v - s->base) &&
               !(s->gcmark_bits[idx / 64] & (1ULL << (idx % 64)));
    } else if (st == GM_SPAN_GC_LARGE) {
      missed = v - s->base < s->elemsize && (!no_interior || v == s->base) &&
               !(s->gcmark_bits[0] & 1);
    }
    if (missed)
      gm_fatal("gm_gc: mark verify: a marked block points to an unmarked live one", (void *)v,
               "lost mark bit or early end of the mark");
  }
}

static void verify_span(gm_mspan_t *s) {
  if (gm_gc_kind(s) == GM_GC_NOSCAN)
    return;
  if (s->state == GM_SPAN_GC_LARGE) {
    if (s->gcmark_bits[0] & 1)
      verify_block(s->base, s->base + s->elemsize);
    return;
  }
  for (size_t i = 0; i < s->nelems; i++)
    if (s->gcmark_bits[i / 64] & (1ULL << (i % 64)))
      verify_block(s->base + i * s->elemsize, s->base + (i + 1) * s->elemsize);
}

static void gm_gc_mark_verify(void) {
  for (unsigned k = 0; k < GM_GC_KINDS; k++)
    for (unsigned c = 1; c < GM_NUM_CLASSES; c++) {
      for (gm_mspan_t *s = gm_gc.partial[k][c]; s; s = s->next)
        verify_span(s);
      for (gm_mspan_t *s = gm_gc.full[k][c]; s; s = s->next)
        verify_span(s);
      for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next)
        if (t->alloc[k][c])
          verify_span(t->alloc[k][c]);
    }
  for (gm_mspan_t *s = gm_gc.large; s; s = s->next)
    verify_span(s);
}
#endif

/* Each logged span's mark bytes into its mark bits (0 or 1 each: one
 * multiply gathers eight), then cleared, and its claim word too. The
 * bytes marked are counted here, from the bits: two markers that mark one
 * block at once (see above) both count it, and parallel cycles marked
 * more bytes than the heap held (tests/gc/test_account, marked). */
static void pack_bytes(void) {
  size_t bytes = 0;
  for (size_t i = 0; i < mlog_n; i++) {
    gm_mspan_t *s = mlog[i];
    uint64_t *cw = &s->gcmark_bits[GM_MAX_BITMAP_WORDS];
    uint8_t *b = mbytes + (*cw - 1);
    size_t n = GM_ALIGN_UP((size_t)s->nelems, 8), marks = 0;
    for (size_t j = 0; j < n; j += 8) {
      uint64_t x;
      memcpy(&x, b + j, 8);
      uint64_t *w = &s->gcmark_bits[j / 64];
      uint64_t add = (((x * 0x0102040810204080ULL) >> 56) << (j % 64)) & ~*w;
      *w |= add;
      marks += (size_t)gm_popcount64(add);
    }
    bytes += marks * s->elemsize;
    memset(b, 0, n);
    *cw = 0;
  }
  gm_fetch_add_relaxed(&marked_total, bytes);
}

void gm_gc_mark_end(void) {
  mark_loop(&markers[0]);
  /* From here the collector marks alone, into the bits (the finalizers'
   * marks, gcfinal.c): bytes set now would never be packed, and work
   * shared with a late helper would never be taken. */
  if (parallel)
    pack_bytes();
  parallel = false;
#if GM_DEBUG
  if (gm_load_acquire(&nbusy) || pool.n || markers[0].n)
    gm_fatal("gm_gc: mark ended with work left", NULL, "nbusy/pool/stack");
  gm_gc_mark_verify();
#endif
}

size_t gm_gc_marked_bytes(void) { return gm_load_acquire(&marked_total); }
