/* test_calloc.c: calloc returns zeroed memory (checklist item 5) when it
 * reuses dirty small slots, dirty large blocks, spans that held another
 * size class, and pages released to the OS, all filled with 0xff before.
 * In the style of glibc's tst-calloc (50,000 callocs per size). */
#include "api.h"

#include <pthread.h>

/* Go's size classes (go-sizeclasses.tsv) plus odd sizes. */
static const size_t classes[] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,   192,
    208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,   512,   576,   640,
    704,   768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,  2688,  3072,  3200,
    3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288,
    13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};
#define NCLASSES (sizeof classes / sizeof classes[0])

static unsigned long rng_state = 88172645463325252UL;
static size_t rnd(size_t n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (size_t)(rng_state % n);
}

static int zero_check(const char *what, const unsigned char *p, size_t n) {
  size_t z = first_nonzero(p, n);
  return CHECK(z == n, "%s: calloc(%zu bytes) %p: expected all zero, got byte %zu = 0x%02x", what, n,
               (const void *)p, z, z < n ? p[z] : 0);
}

/* Fill count blocks of size n with 0xff, free them, calloc the same count
 * (so the slots are reused) and check all zero. */
static void dirty_then_calloc(const char *what, size_t n, size_t count) {
  void **ps = T_malloc(count * sizeof(void *));
  if (!ps)
    return;
  for (size_t i = 0; i < count; i++) {
    ps[i] = T_malloc(n);
    if (ps[i])
      memset(ps[i], 0xff, T_usable(ps[i]));
  }
  for (size_t i = 0; i < count; i++)
    T_free(ps[i]);
  int bad = 0;
  for (size_t i = 0; i < count; i++) {
    ps[i] = T_calloc(1, n);
    if (!CHECK(ps[i] != NULL, "%s: calloc(1, %zu): expected a block, got NULL", what, n))
      continue;
    if (!bad && !zero_check(what, ps[i], n))
      bad = 1;
  }
  for (size_t i = 0; i < count; i++)
    T_free(ps[i]);
  T_free(ps);
}

static void test_small_slots(void) {
  check_section("dirty small slots");
  const size_t odd[] = {1, 5, 6, 15, 17, 31, 96, 100, 1000, 4095, 32767};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
    for (int r = 0; r < 5; r++)
      dirty_then_calloc("odd size", odd[i], 2000);
  for (size_t c = 0; c < NCLASSES; c++)
    for (int r = 0; r < 3; r++)
      dirty_then_calloc("class size", classes[c], classes[c] <= 4096 ? 1000 : 64);
  /* calloc(count, size) with the product in the small range. */
  dirty_then_calloc("count*size", 17 * 13, 500);
  for (int r = 0; r < 2000; r++) {
    unsigned char *d = T_malloc(777);
    if (d) {
      memset(d, 0xff, 777);
      T_free(d);
    }
    unsigned char *p = T_calloc(111, 7);
    if (CHECK(p != NULL, "calloc(111, 7): expected a block, got NULL")) {
      zero_check("calloc(111,7)", p, 777);
      T_free(p);
    }
  }
}

/* tst-calloc: 50,000 callocs of random n x m while earlier blocks are freed
 * dirty. */
static void test_random(void) {
  check_section("random n x m");
  enum { LIVE = 512 };
  static unsigned char *live[LIVE];
  static size_t live_n[LIVE];
  int bad = 0;
  for (int it = 0; it < 50000; it++) {
    size_t slot = rnd(LIVE);
    if (live[slot]) {
      memset(live[slot], 0xff, live_n[slot]);
      T_free(live[slot]);
      live[slot] = NULL;
    }
    size_t a = 1 + rnd(64), b = 1 + rnd(rnd(8) == 0 ? 2048 : 64);
    unsigned char *p = T_calloc(a, b);
    if (!CHECK(p != NULL, "calloc(%zu, %zu): expected a block, got NULL", a, b))
      continue;
    if (!bad && !zero_check("random", p, a * b))
      bad = 1;
    live[slot] = p;
    live_n[slot] = a * b;
  }
  for (int i = 0; i < LIVE; i++)
    T_free(live[i]);
}

static void test_large(void) {
  check_section("dirty large blocks");
  const size_t sizes[] = {32769, 40000, 65536, 100000, 1 * MiB, 4 * MiB + 3, 16 * MiB, 64 * MiB + 1};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    int rounds = n <= 1 * MiB ? 50 : 4;
    for (int r = 0; r < rounds; r++) {
      unsigned char *d = T_malloc(n);
      if (!CHECK(d != NULL, "malloc(%zu): expected a block, got NULL", n))
        break;
      memset(d, 0xff, T_usable(d));
      T_free(d);
      unsigned char *p = T_calloc(n, 1);
      if (!CHECK(p != NULL, "calloc(%zu, 1): expected a block, got NULL", n))
        break;
      int ok = zero_check("large reuse", p, n);
      T_free(p);
      if (!ok)
        break;
    }
  }
  /* Two adjacent dirty runs merged into one bigger calloc. */
  for (int r = 0; r < 20; r++) {
    unsigned char *a = T_malloc(1 * MiB), *b = T_malloc(1 * MiB), *c = T_malloc(1 * MiB);
    if (a)
      memset(a, 0xff, 1 * MiB);
    if (b)
      memset(b, 0xff, 1 * MiB);
    if (c)
      memset(c, 0xff, 1 * MiB);
    T_free(a);
    T_free(b);
    T_free(c);
    unsigned char *p = T_calloc(3, 1 * MiB - 4096);
    if (CHECK(p != NULL, "calloc(3, 1MiB-4096): expected a block, got NULL")) {
      int ok = zero_check("merged runs", p, 3 * (1 * MiB - 4096));
      T_free(p);
      if (!ok)
        break;
    }
  }
}

/* Pages that held one size class, freed, then handed to other classes and
 * to large blocks. */
static void test_reused_spans(void) {
  check_section("reused spans");
  enum { BYTES = 8 * 1024 * 1024 };
  for (size_t c = 0; c + 1 < NCLASSES; c += 5) {
    size_t from = classes[c], to = classes[(c + 7) % NCLASSES];
    size_t count = BYTES / from;
    void **ps = T_malloc(count * sizeof(void *));
    if (!ps)
      return;
    for (size_t i = 0; i < count; i++) {
      ps[i] = T_malloc(from);
      if (ps[i])
        memset(ps[i], 0xff, from);
    }
    for (size_t i = 0; i < count; i++)
      T_free(ps[i]);
    T_free(ps);
    /* The other class. */
    size_t count2 = BYTES / to;
    void **qs = T_malloc(count2 * sizeof(void *));
    if (!qs)
      return;
    int bad = 0;
    for (size_t i = 0; i < count2; i++) {
      qs[i] = T_calloc(1, to);
      if (qs[i] && !bad && !zero_check("span of another class", qs[i], to))
        bad = 1;
    }
    for (size_t i = 0; i < count2; i++)
      T_free(qs[i]);
    T_free(qs);
    /* Large blocks over the same pages. */
    for (int i = 0; i < 8; i++) {
      unsigned char *p = T_calloc(1, 1 * MiB);
      if (p) {
        zero_check("large over small spans", p, 1 * MiB);
        T_free(p);
      }
    }
  }
}

/* Pages given back to the OS (malloc_trim / gm_release) and reused. */
static void test_released(void) {
  check_section("released pages");
  for (int r = 0; r < 10; r++) {
    enum { N = 64 };
    unsigned char *ps[N];
    for (int i = 0; i < N; i++) {
      ps[i] = T_malloc(256 * KiB);
      if (ps[i])
        memset(ps[i], 0xff, 256 * KiB);
    }
    unsigned char *small[4096];
    for (int i = 0; i < 4096; i++) {
      small[i] = T_malloc(2048);
      if (small[i])
        memset(small[i], 0xff, 2048);
    }
    for (int i = 0; i < N; i++)
      T_free(ps[i]);
    for (int i = 0; i < 4096; i++)
      T_free(small[i]);
    T_trim();
    for (int i = 0; i < N; i++) {
      ps[i] = T_calloc(256, KiB);
      if (ps[i])
        zero_check("after release, large", ps[i], 256 * KiB);
    }
    for (int i = 0; i < 4096; i++) {
      small[i] = T_calloc(2048, 1);
      if (small[i] && !zero_check("after release, small", small[i], 2048))
        break;
    }
    for (int i = 0; i < N; i++)
      T_free(ps[i]);
    for (int i = 0; i < 4096; i++)
      T_free(small[i]);
  }
}

/* calloc from other threads reusing blocks this thread dirtied. */
static void *calloc_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 20000; i++) {
    size_t n = classes[(size_t)i % NCLASSES];
    unsigned char *p = T_calloc(1, n);
    if (p) {
      if (!zero_check("other thread", p, n)) {
        T_free(p);
        break;
      }
      memset(p, 0xff, n);
      T_free(p);
    }
  }
  return NULL;
}

static void test_threads(void) {
  check_section("threads");
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, calloc_thread, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("test_calloc (%s API)\n", API_NAME);
  test_small_slots();
  test_random();
  test_large();
  test_reused_spans();
  test_released();
  test_threads();
  return check_summary();
}
