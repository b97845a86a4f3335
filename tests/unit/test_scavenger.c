/* Memory goes back to the OS without any call into the library.
 *
 * 1. About 1 GiB in mixed sizes (mostly small objects by count, mostly
 *    large by bytes) is allocated on two threads; 90% is freed in random
 *    order, a share of it by the other thread; the program keeps
 *    allocating a little. Within three seconds RSS must fall to at most
 *    2x the live bytes, and to at most 1.5x right after gm_release()
 *    (malloc_trim(0)).
 * 2. Peak then idle: 500 MiB allocated and freed, then every thread sleeps:
 *    RSS falls anyway.
 * 3. Hot reuse: a live set of big buffers, one replaced at random and
 *    written in full at every step. The freed runs do not fit the next sizes
 *    exactly, so the heap holds more free pages than the scavenger's target
 *    allows; they are reused within milliseconds, and releasing them only
 *    makes the program fault them back in (it did: 4-6% of the pages
 *    written faulted, against 0.1% now).
 * RSS is read from /proc/self/statm. */
#include "unit.h"

#include "gomalloc.h"
#include "os.h"

#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef GM_TEST_SANITIZED
#define GM_TEST_SANITIZED 0
#endif
/* Resident shadow memory a sanitizer keeps for n bytes of touched heap. */
#define SHADOW(n) (GM_TEST_SANITIZED ? (size_t)(n) / 8 : (size_t)0)

typedef struct {
  void *p;
  size_t size;
} blk_t;

#define NBLK 1400000
static blk_t *blocks;
static size_t nblocks;

static size_t rss(void) { return gm_sys_rss(); }
static size_t minus(size_t a, size_t b) { return a > b ? a - b : 0; }

static size_t pick(unsigned long long *rs) {
  unsigned r = unit_rand(rs) % 1000;
  if (r < 700)
    return 8 + unit_rand(rs) % 249;           /* small, most of the count */
  if (r < 960)
    return 257 + unit_rand(rs) % 7936;        /* up to 8 KiB */
  if (r < 995)
    return 8193 + unit_rand(rs) % (120 << 10); /* to 128 KiB */
  return (128 << 10) + unit_rand(rs) % (4 << 20); /* large: most of the bytes */
}

typedef struct {
  size_t from, to;
  unsigned long long seed;
} part_t;

static void *alloc_part(void *arg) {
  part_t *pt = arg;
  unsigned long long rs = pt->seed;
  for (size_t i = pt->from; i < pt->to; i++) {
    size_t n = pick(&rs);
    blocks[i].p = gm_malloc(n);
    blocks[i].size = n;
    memset(blocks[i].p, 0xa5, n);
  }
  return NULL;
}

/* Free the blocks whose index is in the shuffled order's range. */
static size_t *order;
static void *free_part(void *arg) {
  part_t *pt = arg;
  for (size_t k = pt->from; k < pt->to; k++) {
    blk_t *b = &blocks[order[k]];
    gm_free(b->p);
    b->p = NULL;
  }
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_mixed(void) {
  blocks = calloc(NBLK, sizeof *blocks);
  order = malloc(NBLK * sizeof *order);
  size_t base_rss = rss();
  /* Allocate ~1 GiB on two threads. */
  size_t total = 0;
  nblocks = 0;
  unsigned long long rs = unit_seed();
  while (total < ((size_t)1 << 30) && nblocks + 20000 <= NBLK) {
    part_t a = {nblocks, nblocks + 10000, unit_rand(&rs)}, b = {nblocks + 10000, nblocks + 20000, unit_rand(&rs)};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, alloc_part, &a);
    pthread_create(&tb, NULL, alloc_part, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (size_t i = nblocks; i < nblocks + 20000; i++)
      total += blocks[i].size;
    nblocks += 20000;
  }
  size_t peak = rss();
  /* Free 90% in random order; the second half of the frees runs on another
   * thread, so many are cross-thread. */
  for (size_t i = 0; i < nblocks; i++)
    order[i] = i;
  for (size_t i = nblocks - 1; i > 0; i--) {
    size_t j = unit_rand(&rs) % (i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  size_t nfree = nblocks / 10 * 9;
  part_t f1 = {0, nfree / 2, 0}, f2 = {nfree / 2, nfree, 0};
  free_part(&f1);
  pthread_t tf;
  pthread_create(&tf, NULL, free_part, &f2);
  pthread_join(tf, NULL);
  size_t live = 0;
  for (size_t i = 0; i < nblocks; i++)
    if (blocks[i].p)
      live += blocks[i].size;
  /* Keep allocating a little for three seconds; no call into the library
   * other than malloc and free. */
  void *ring[256] = {0};
  size_t after = 0;
  for (int ms = 0; ms < 3000; ms += 10) {
    for (int k = 0; k < 64; k++) {
      int i = (int)(unit_rand(&rs) % 256);
      gm_free(ring[i]);
      ring[i] = gm_malloc(16 + unit_rand(&rs) % 2000);
    }
    sleep_ms(10);
  }
  for (int i = 0; i < 256; i++)
    gm_free(ring[i]);
  after = minus(rss(), base_rss);
  printf("mixed: allocated %zu MiB in %zu blocks, peak RSS %zu MiB, live %zu MiB, RSS after 3 s %zu MiB (%.2fx)\n",
         total >> 20, nblocks, minus(peak, base_rss) >> 20, live >> 20, after >> 20, (double)after / (double)live);
  /* Under ASan, the shadow of everything the peak touched (an eighth of
   * it) stays resident whatever the allocator gives back. */
  size_t shadow = SHADOW(minus(peak, base_rss));
  CHECK(after <= 2 * live + shadow, "RSS %zu MiB after 3 s is over 2x the live %zu MiB", after >> 20,
        live >> 20);
  size_t released = gm_release();
  size_t trimmed = minus(rss(), base_rss);
  printf("mixed: after gm_release (%zu MiB released) RSS %zu MiB (%.2fx)\n", released >> 20,
         trimmed >> 20, (double)trimmed / (double)live);
  CHECK(trimmed * 2 <= 3 * live + 2 * shadow, "RSS %zu MiB after gm_release is over 1.5x the live %zu MiB",
        trimmed >> 20, live >> 20);
  /* Releasing memory must never touch a live block. */
  size_t bad = 0;
  for (size_t i = 0; i < nblocks; i++) {
    const unsigned char *q = blocks[i].p;
    if (!q)
      continue;
    for (size_t k = 0; k < blocks[i].size; k += 509)
      if (q[k] != 0xa5) {
        if (!bad++)
          fprintf(stderr, "live block %p size %zu lost its contents at offset %zu\n", (void *)q,
                  blocks[i].size, k);
        break;
      }
  }
  CHECK(bad == 0, "%zu live blocks were damaged by releasing memory", bad);
  for (size_t i = 0; i < nblocks; i++)
    gm_free(blocks[i].p);
  free(blocks);
  free(order);
}

static void *peak_thread(void *arg) {
  (void)arg;
  enum { N = 500 };
  void *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = gm_malloc(1 << 20);
    memset(p[i], 1, 1 << 20);
  }
  for (int i = 0; i < N; i++)
    gm_free(p[i]);
  return NULL;
}

static void test_peak_then_idle(void) {
  gm_release();
  size_t before = rss();
  pthread_t t;
  pthread_create(&t, NULL, peak_thread, NULL);
  pthread_join(t, NULL);
  size_t high = rss();
  /* All threads sleep now. */
  size_t low = high;
  for (int i = 0; i < 40 && low > before + (64 << 20); i++) {
    sleep_ms(100);
    low = rss();
  }
  printf("peak-then-idle: RSS before %zu MiB, after the peak %zu MiB, after sleeping %zu MiB\n",
         before >> 20, high >> 20, low >> 20);
  CHECK(high > before + (400 << 20), "the peak did not show in RSS (%zu -> %zu MiB)", before >> 20,
        high >> 20);
  CHECK(low <= before + (64 << 20) + SHADOW(high - before), "RSS did not fall while idle: %zu MiB (was %zu before)",
        low >> 20, before >> 20);
}

static long minor_faults(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void test_hot_reuse(void) {
  enum { N = 12 };
  void *p[N];
  unsigned long long rs = unit_seed();
  for (int i = 0; i < N; i++)
    p[i] = NULL;
  /* Warm up until the heap has its size, then two seconds (20 scavenger
   * ticks) of steady replacement, counted. */
  size_t written = 0;
  long f0 = 0;
  double t0 = 0;
  for (int step = 0;; step++) {
    if (step == 200) {
      f0 = minor_faults();
      t0 = now_s();
      written = 0;
    }
    if (step > 200 && now_s() - t0 > 2.0)
      break;
    int i = (int)(unit_rand(&rs) % N);
    size_t n = ((size_t)2 << 20) + unit_rand(&rs) % ((size_t)8 << 20);
    gm_free(p[i]);
    p[i] = gm_malloc(n);
    memset(p[i], 0x5a, n);
    written += n;
  }
  long faults = minor_faults() - f0;
  size_t pages = written / 4096;
  printf("hot-reuse: %zu MiB written in 2 s, %ld page faults (%.2f%% of the pages)\n", written >> 20,
         faults, 100.0 * (double)faults / (double)pages);
  CHECK((size_t)faults * 50 <= pages, "%ld page faults for %zu pages written: free pages in use were released",
        faults, pages);
  for (int i = 0; i < N; i++)
    gm_free(p[i]);
}

int main(void) {
  test_hot_reuse();
  test_peak_then_idle();
  test_mixed();
  return check_summary();
}
