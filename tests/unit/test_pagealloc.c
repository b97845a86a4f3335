/* test_pagealloc.c: the page allocator (src/pagealloc.c) against hand-made
 * cases, brute-force bit routines and a byte-per-page model, plus a scale run
 * over 64 GiB of address space. Pages are never touched: the allocator only
 * manages addresses, so fake ranges are grown without mapping anything.
 *
 * GM_SEED=<n> overrides the fixed random seed; a failure prints the seed. */
#include "unit.h"

#include "pagealloc.h"
#include "pallocbits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define P ((uintptr_t)GM_PAGE_SIZE)
#define CH ((uintptr_t)GM_CHUNK_BYTES)
#define B0 ((uintptr_t)0x100000000000) /* a 16 TiB-aligned fake heap base */

static unsigned long long g_seed = 0x9e3779b97f4a7c15ull;
static uint64_t g_rng;

static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return rnd() % n; }

/* Inside a case the first failed REQUIRE ends it (return false): later steps
 * build on earlier ones. run() counts each case as one CHECK. */
#define FAILF(...)                                                                                 \
  do {                                                                                             \
    fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                           \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fprintf(stderr, " (GM_SEED=%llu)\n", g_seed);                                                  \
    return false;                                                                                  \
  } while (0)
#define REQUIRE(c)                                                                                 \
  do {                                                                                             \
    if (!(c))                                                                                      \
      FAILF("%s", #c);                                                                             \
  } while (0)
#define REQUIRE_EQ(a, b)                                                                           \
  do {                                                                                             \
    unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                 \
    if (a_ != b_)                                                                                  \
      FAILF("%s == %s: 0x%llx != 0x%llx", #a, #b, a_, b_);                                         \
  } while (0)
#define REQUIRE_PA(pa)                                                                             \
  do {                                                                                             \
    const char *e_ = gm_pagealloc_check(pa);                                                       \
    if (e_)                                                                                        \
      FAILF("gm_pagealloc_check: %s", e_);                                                         \
  } while (0)

static gm_pagealloc_t *fresh(void) {
  /* Each case gets its own allocator; the metadata they map stays mapped
   * (there is no teardown in the interface; the heap never shrinks). */
  static gm_pagealloc_t pool[32];
  static unsigned used;
  if (used == sizeof pool / sizeof pool[0] || !gm_pagealloc_init(&pool[used]))
    abort();
  return &pool[used++];
}

/* ---- recording release callback ------------------------------------------------- */

#define MAX_REC 4096
static uintptr_t rec_base[MAX_REC];
static size_t rec_len[MAX_REC];
static size_t rec_n;
static const gm_pagealloc_t *rec_pa;
static bool rec_bad; /* a released page was in use or not yet marked scavenged */

static void recorder(uintptr_t base, size_t len) {
  if (rec_n < MAX_REC) {
    rec_base[rec_n] = base;
    rec_len[rec_n] = len;
  }
  rec_n++;
  for (uintptr_t a = base; rec_pa && a < base + len; a += P)
    if (!gm_pagealloc_is_free(rec_pa, a) || !gm_pagealloc_is_scavenged(rec_pa, a))
      rec_bad = true;
}

static void rec_reset(const gm_pagealloc_t *pa) {
  rec_n = 0;
  rec_pa = pa;
  rec_bad = false;
}

/* ---- bitmap primitives against brute force ------------------------------------------ */

static uint64_t rnd_word(void) {
  switch (rnd_below(7)) {
  case 0:
    return 0;
  case 1:
    return ~0ull;
  case 2:
    return rnd();
  case 3:
    return rnd() & rnd() & rnd();
  case 4:
    return rnd() | rnd() | rnd();
  case 5: { /* one hole */
    unsigned lo = (unsigned)rnd_below(64), n = 1 + (unsigned)rnd_below(64 - lo);
    return ~gm_pb_mask(lo, n);
  }
  default: { /* one run */
    unsigned lo = (unsigned)rnd_below(64), n = 1 + (unsigned)rnd_below(64 - lo);
    return gm_pb_mask(lo, n);
  }
  }
}

static bool bit(const uint64_t *b, unsigned i) { return b[i / 64] >> (i % 64) & 1; }

static bool t_bits(void) {
  for (int it = 0; it < 200000; it++) {
    uint64_t c = rnd_word();
    unsigned n = 1 + (unsigned)rnd_below(64), want = 64;
    for (unsigned i = 0; i + n <= 64 && want == 64; i++) {
      bool all = true;
      for (unsigned k = i; k < i + n; k++)
        all &= (c >> k & 1) != 0;
      if (all)
        want = i;
    }
    if (gm_pb_find_range64(c, n) != want)
      FAILF("find_range64(0x%llx, %u) = %u, want %u", (unsigned long long)c, n,
            gm_pb_find_range64(c, n), want);
  }
  for (int it = 0; it < 50000; it++) {
    uint64_t b[8];
    for (int w = 0; w < 8; w++)
      b[w] = rnd_word();
    /* summary */
    unsigned start = 0, max = 0, run = 0;
    while (start < 512 && !bit(b, start))
      start++;
    for (unsigned i = 0; i < 512; i++) {
      run = bit(b, i) ? 0 : run + 1;
      if (run > max)
        max = run;
    }
    gm_pa_sum_t s = gm_pb_summarize(b);
    if (s.start != start || s.max != max || s.end != run)
      FAILF("summarize: got %llu/%llu/%llu want %u/%u/%u", (unsigned long long)s.start,
            (unsigned long long)s.max, (unsigned long long)s.end, start, max, run);
    /* first fit */
    unsigned n, from = (unsigned)rnd_below(512);
    switch (rnd_below(4)) {
    case 0:
      n = 1;
      break;
    case 1:
      n = 2 + (unsigned)rnd_below(63);
      break;
    case 2:
      n = 1 + (unsigned)rnd_below(512);
      break;
    default:
      n = max ? max : 1; /* exactly the longest run: the tightest case */
      from = rnd_below(2) ? 0 : from;
    }
    unsigned wff = GM_PB_NONE, wfit = GM_PB_NONE;
    for (unsigned i = from; i < 512; i++) {
      if (bit(b, i))
        continue;
      if (wff == GM_PB_NONE)
        wff = i;
      unsigned k = i;
      while (k < 512 && k < i + n && !bit(b, k))
        k++;
      if (k == i + n) {
        wfit = i;
        break;
      }
    }
    unsigned ff, fit = gm_pb_find(b, n, from, &ff);
    if (fit != wfit || ff != wff)
      FAILF("pb_find(n=%u, from=%u) = %u/%u, want %u/%u", n, from, fit, ff, wfit, wff);
  }
  return true;
}

/* ---- hand-made cases ---------------------------------------------------------------- */

static bool t_single_pages(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_alloc(pa, 1, NULL) == 0); /* empty allocator */
  REQUIRE(sizeof *pa <= 16384);                  /* the static part stays small */
  REQUIRE_EQ(pa->meta_bytes, 0);                 /* nothing mapped before grow */
  REQUIRE(gm_pagealloc_grow(pa, B0, 512));
  REQUIRE(pa->meta_bytes <= 96 * 1024); /* one super + one block */
  REQUIRE_EQ(gm_pagealloc_total_pages(pa), 512);
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), 512);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), 512);
  for (uintptr_t i = 0; i < 512; i++) {
    size_t scav = 99;
    REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, &scav), B0 + i * P);
    REQUIRE_EQ(scav, 1);
  }
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), 0);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), 0);
  REQUIRE_PA(pa);
  return true;
}

static bool t_straddle(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0, 32 * 512));
  size_t scav;
  uintptr_t a = gm_pagealloc_alloc(pa, 600, &scav);
  REQUIRE_EQ(a, B0);
  REQUIRE_EQ(scav, 600);
  uintptr_t b = gm_pagealloc_alloc(pa, 5000, &scav);
  REQUIRE_EQ(b, B0 + 600 * P);
  REQUIRE_EQ(scav, 5000);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), B0 + 5600 * P);
  REQUIRE_PA(pa);
  gm_pagealloc_free(pa, a, 600);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 600, &scav), B0);
  REQUIRE_EQ(scav, 0); /* freed pages stay backed */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 10240, &scav), B0 + 5601 * P);
  REQUIRE_EQ(scav, 10240);
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), 32 * 512 - 600 - 5000 - 1 - 10240);
  REQUIRE_PA(pa);
  /* the 543 pages left cannot hold 544 */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 544, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 543, NULL), B0 + 15841 * P);
  REQUIRE_PA(pa);
  return true;
}

/* Ranges straddling the 2 GiB block, 1 TiB super and 64 TiB top-level
 * boundaries of the metadata, grown in pieces. */
static bool t_boundaries(void) {
  static const uintptr_t edges[] = {(uintptr_t)5 << 31, (uintptr_t)7 << 40, (uintptr_t)1 << 46,
                                    (uintptr_t)1 << 47};
  for (unsigned e = 0; e < 4; e++) {
    gm_pagealloc_t *pa = fresh();
    uintptr_t lo = edges[e] - 8 * CH;
    size_t nch = 16;
    REQUIRE(gm_pagealloc_grow(pa, lo + 4 * CH, (nch - 4) * 512));
    REQUIRE(gm_pagealloc_grow(pa, lo, 4 * 512));
    REQUIRE_PA(pa);
    size_t scav;
    REQUIRE_EQ(gm_pagealloc_alloc(pa, nch * 512, &scav), lo);
    REQUIRE_EQ(scav, nch * 512);
    REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), 0);
    gm_pagealloc_free(pa, lo + 7 * CH + 100 * P, 1000);
    REQUIRE_EQ(gm_pagealloc_alloc(pa, 1001, NULL), 0);
    REQUIRE_EQ(gm_pagealloc_alloc(pa, 1000, NULL), lo + 7 * CH + 100 * P);
    REQUIRE_PA(pa);
  }
  /* the very top chunk of the 48-bit space, and the lowest one allowed */
  gm_pagealloc_t *pa = fresh();
  uintptr_t top = ((uintptr_t)1 << 48) - CH;
  REQUIRE(gm_pagealloc_grow(pa, top, 512));
  REQUIRE(gm_pagealloc_grow(pa, CH, 512));
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 512, NULL), CH);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 512, NULL), top);
  REQUIRE(gm_pagealloc_alloc_at(pa, top - CH, 1, NULL) == false);
  gm_pagealloc_free(pa, top + 511 * P, 1);
  REQUIRE(gm_pagealloc_alloc_at(pa, top + 511 * P, 1, NULL));
  REQUIRE_PA(pa);
  return true;
}

static bool t_alloc_at(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0, 4 * 512));
  size_t scav = 0;
  REQUIRE(gm_pagealloc_alloc_at(pa, B0 + 10 * P, 5, &scav));
  REQUIRE_EQ(scav, 5);
  REQUIRE(!gm_pagealloc_is_free(pa, B0 + 10 * P));
  REQUIRE(!gm_pagealloc_is_scavenged(pa, B0 + 14 * P));
  REQUIRE(gm_pagealloc_is_free(pa, B0 + 15 * P));
  size_t before = gm_pagealloc_free_pages(pa);
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 12 * P, 1, &scav));
  REQUIRE_EQ(scav, 0);
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 8 * P, 3, NULL));    /* overlaps page 10 */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 14 * P, 100, NULL)); /* starts in use */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 - P, 1, NULL));        /* below the range */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 4 * CH, 1, NULL));   /* above it */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 2047 * P, 2, NULL)); /* runs off the end */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 1, 1, NULL));        /* unaligned */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + 20 * P, 0, NULL));   /* empty */
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0, 4 * 512 + 1, NULL));  /* too big */
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), before);
  REQUIRE_PA(pa);
  REQUIRE(gm_pagealloc_alloc_at(pa, B0 + 15 * P, 1, NULL));
  REQUIRE(gm_pagealloc_alloc_at(pa, B0 + 500 * P, 100, NULL));   /* across a chunk edge */
  REQUIRE(gm_pagealloc_alloc_at(pa, B0 + 1024 * P, 1024, NULL)); /* two whole chunks */
  REQUIRE_PA(pa);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), B0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 10, NULL), B0 + 16 * P); /* 1..9 is only 9 pages */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 9, NULL), B0 + 1 * P);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 475, NULL), 0); /* 26..499 is 474 */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 474, NULL), B0 + 26 * P);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), B0 + 600 * P);
  REQUIRE_PA(pa);
  /* alloc_at right at the search address */
  REQUIRE(gm_pagealloc_alloc_at(pa, B0 + 601 * P, 1, NULL));
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), B0 + 602 * P);
  REQUIRE_PA(pa);
  return true;
}

static bool t_free_realloc(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0, 512));
  uintptr_t p[10];
  for (int i = 0; i < 10; i++)
    p[i] = gm_pagealloc_alloc(pa, 1, NULL);
  gm_pagealloc_free(pa, p[7], 1);
  gm_pagealloc_free(pa, p[3], 1);
  size_t scav = 9;
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, &scav), p[3]);
  REQUIRE_EQ(scav, 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), p[7]);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, &scav), B0 + 10 * P);
  REQUIRE_EQ(scav, 1);
  REQUIRE_PA(pa);
  return true;
}

static bool t_coalesce(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0, 2 * 512));
  uintptr_t a = gm_pagealloc_alloc(pa, 5, NULL), b = gm_pagealloc_alloc(pa, 7, NULL);
  uintptr_t c = gm_pagealloc_alloc(pa, 3, NULL), d = gm_pagealloc_alloc(pa, 1, NULL);
  REQUIRE_EQ(d, B0 + 15 * P);
  gm_pagealloc_free(pa, b, 7);
  gm_pagealloc_free(pa, a, 5);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 13, NULL), B0 + 16 * P); /* 12 free at the start */
  gm_pagealloc_free(pa, c, 3);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 15, NULL), a);
  REQUIRE_PA(pa);
  /* partial frees of one run coalesce with each other */
  uintptr_t e = gm_pagealloc_alloc(pa, 40, NULL);
  gm_pagealloc_free(pa, e + 10 * P, 5);
  gm_pagealloc_free(pa, e + 20 * P, 5);
  REQUIRE_EQ(e, B0 + 29 * P);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 6, NULL), e + 40 * P); /* two holes of 5 */
  gm_pagealloc_free(pa, e + 15 * P, 5);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 15, NULL), e + 10 * P);
  REQUIRE_PA(pa);
  /* across the chunk edge: fill everything, free 500..530, get it back whole */
  while (gm_pagealloc_alloc(pa, 1, NULL))
    ;
  for (uintptr_t i = 500; i < 531; i++)
    gm_pagealloc_free(pa, B0 + i * P, 1);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 32, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 31, NULL), B0 + 500 * P);
  REQUIRE_PA(pa);
  return true;
}

static bool t_gaps(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0 + 2 * CH, 512)); /* added out of order */
  REQUIRE(gm_pagealloc_grow(pa, B0, 512));
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 600, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 300, NULL), B0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 213, NULL), B0 + 2 * CH); /* 212 + gap + 512 */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 212, NULL), B0 + 300 * P);
  REQUIRE_PA(pa);
  REQUIRE(!gm_pagealloc_is_free(pa, B0 + CH));
  REQUIRE(!gm_pagealloc_alloc_at(pa, B0 + CH - P, 2, NULL)); /* into the gap */
  /* closing the gap joins the neighbours */
  gm_pagealloc_free(pa, B0 + 300 * P, 212);
  gm_pagealloc_free(pa, B0 + 2 * CH, 213);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 212 + 512 + 512, NULL), 0);
  REQUIRE(gm_pagealloc_grow(pa, B0 + CH, 512));
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 212 + 512 + 512, NULL), B0 + 300 * P);
  REQUIRE_PA(pa);
  /* far-apart ranges in different supers, lowest first */
  pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, (uintptr_t)0x7f0000000000, 2 * 512));
  REQUIRE(gm_pagealloc_grow(pa, (uintptr_t)0x1000000000, 512));
  REQUIRE(gm_pagealloc_grow(pa, (uintptr_t)0x300000000000, 512));
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), 0x1000000000);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 512, NULL), 0x300000000000);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 513, NULL), 0x7f0000000000);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 511, NULL), 0x1000000000 + P);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 512, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 511, NULL), 0x7f0000000000 + 513 * P);
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), 0);
  REQUIRE_PA(pa);
  return true;
}

static bool t_exhaust(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0, 3 * 512));
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1537, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1536, NULL), B0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, (size_t)1 << 40, NULL), 0);
  gm_pagealloc_free(pa, B0, 1536);
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), 1536);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1537, NULL), 0);
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1536, NULL), B0);
  REQUIRE_PA(pa);
  return true;
}

static bool t_grow_args(void) {
  gm_pagealloc_t *pa = fresh();
  errno = 0;
  REQUIRE(!gm_pagealloc_grow(pa, B0 + P, 512));
  REQUIRE_EQ(errno, EINVAL);
  REQUIRE(!gm_pagealloc_grow(pa, B0, 100));
  REQUIRE(!gm_pagealloc_grow(pa, B0, 0));
  REQUIRE(!gm_pagealloc_grow(pa, ((uintptr_t)1 << 48) - CH, 1024));
  REQUIRE(!gm_pagealloc_grow(pa, (uintptr_t)1 << 48, 512));
  REQUIRE(!gm_pagealloc_grow(pa, 0, 512)); /* alloc could not return page 0 */
  REQUIRE_EQ(gm_pagealloc_total_pages(pa), 0);
  REQUIRE_EQ(pa->meta_bytes, 0);
  REQUIRE_PA(pa);
  return true;
}

static bool t_scavenge(void) {
  gm_pagealloc_t *pa = fresh();
  REQUIRE(gm_pagealloc_grow(pa, B0, 2 * 512));
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 1 << 30, recorder), 0); /* all born scavenged */
  REQUIRE_EQ(rec_n, 0);
  size_t scav;
  uintptr_t a = gm_pagealloc_alloc(pa, 10, &scav);
  REQUIRE_EQ(scav, 10);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), 1014);
  REQUIRE(!gm_pagealloc_is_scavenged(pa, a));
  gm_pagealloc_free(pa, a, 10);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), 1014);
  REQUIRE(gm_pagealloc_is_free(pa, a) && !gm_pagealloc_is_scavenged(pa, a));
  REQUIRE(gm_pagealloc_is_scavenged(pa, a + 10 * P));
  REQUIRE_PA(pa);
  /* 3 pages minus a bit rounds up to 3 pages: the top three of 0..9 */
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 3 * P - 100, recorder), 3 * P);
  REQUIRE_EQ(rec_n, 1);
  REQUIRE_EQ(rec_base[0], B0 + 7 * P);
  REQUIRE_EQ(rec_len[0], 3 * P);
  REQUIRE(!rec_bad);
  REQUIRE_PA(pa);
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, SIZE_MAX, recorder), 7 * P);
  REQUIRE_EQ(rec_n, 1);
  REQUIRE_EQ(rec_base[0], B0);
  REQUIRE_EQ(rec_len[0], 7 * P);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), 1024);
  REQUIRE_PA(pa);
  /* holes in a full heap come back highest first, one call per run, the one
   * across the chunk edge as a single call; in-use pages are never touched */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 1024, &scav), B0);
  REQUIRE_EQ(scav, 1024);
  gm_pagealloc_free(pa, B0 + 100 * P, 100);
  gm_pagealloc_free(pa, B0 + 300 * P, 100);
  gm_pagealloc_free(pa, B0 + 500 * P, 30);
  gm_pagealloc_free(pa, B0 + 600 * P, 100);
  gm_pagealloc_free(pa, B0 + 1023 * P, 1);
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 1000 * P, recorder), 331 * P);
  REQUIRE_EQ(rec_n, 5);
  static const uintptr_t wb[] = {1023, 600, 500, 300, 100}, wl[] = {1, 100, 30, 100, 100};
  for (int i = 0; i < 5; i++) {
    REQUIRE_EQ(rec_base[i], B0 + wb[i] * P);
    REQUIRE_EQ(rec_len[i], wl[i] * P);
  }
  REQUIRE(!rec_bad);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), 331);
  REQUIRE(!gm_pagealloc_is_scavenged(pa, B0 + 99 * P));
  REQUIRE(!gm_pagealloc_is_scavenged(pa, B0 + 200 * P));
  REQUIRE_PA(pa);
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 1000 * P, recorder), 0);
  REQUIRE_EQ(rec_n, 0);
  /* a partial request takes the top of the highest run */
  gm_pagealloc_free(pa, B0, 50);
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 20 * P, recorder), 20 * P);
  REQUIRE_EQ(rec_n, 1);
  REQUIRE_EQ(rec_base[0], B0 + 30 * P);
  REQUIRE_EQ(rec_len[0], 20 * P);
  /* a mixed run: allocating part of it reports only its scavenged pages */
  REQUIRE_EQ(gm_pagealloc_alloc(pa, 40, &scav), B0);
  REQUIRE_EQ(scav, 10);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 0, recorder), 0);
  gm_pagealloc_free(pa, B0 + 39 * P, 1);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, 1, NULL), P);
  REQUIRE(gm_pagealloc_is_scavenged(pa, B0 + 39 * P));
  REQUIRE_PA(pa);
  return true;
}

/* The cold scavenge leaves alone the chunks allocated from or freed into
 * less than min_age ticks of pa->clock ago, walks the index down across
 * blocks and supers, and leaves its cursor where it stopped. */
static bool t_scavenge_cold(void) {
  gm_pagealloc_t *pa = fresh();
  /* three chunks in different blocks and supers of the index */
  const uintptr_t c0 = B0, c1 = B0 + ((uintptr_t)3 << 30), c2 = B0 + ((uintptr_t)2 << 40);
  REQUIRE(gm_pagealloc_grow(pa, c0, 512) && gm_pagealloc_grow(pa, c1, 512) &&
          gm_pagealloc_grow(pa, c2, 512));
  size_t scav;
  pa->clock = 1;
  REQUIRE(gm_pagealloc_alloc_at(pa, c0, 512, &scav) && gm_pagealloc_alloc_at(pa, c1, 512, &scav) &&
          gm_pagealloc_alloc_at(pa, c2, 512, &scav));
  gm_pagealloc_free(pa, c0 + 10 * P, 20);
  gm_pagealloc_free(pa, c2 + 100 * P, 5);
  pa->clock = 10;
  gm_pagealloc_free(pa, c1 + 50 * P, 30);
  pa->clock = 12; /* c1 was used 2 ticks ago, c0 and c2 11 */
  uintptr_t below = UINTPTR_MAX;
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge_cold(pa, 3 * P, 5, &below, recorder), 3 * P);
  REQUIRE_EQ(rec_n, 1);
  REQUIRE_EQ(rec_base[0], c2 + 102 * P);
  REQUIRE_EQ(below, c2 + CH); /* c2 still holds candidates */
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge_cold(pa, SIZE_MAX, 5, &below, recorder), 22 * P);
  REQUIRE_EQ(rec_n, 2);
  REQUIRE_EQ(rec_base[0], c2 + 100 * P);
  REQUIRE_EQ(rec_len[0], 2 * P);
  REQUIRE_EQ(rec_base[1], c0 + 10 * P);
  REQUIRE_EQ(rec_len[1], 20 * P);
  REQUIRE(!rec_bad);
  REQUIRE_EQ(below, 0);
  REQUIRE(!gm_pagealloc_is_scavenged(pa, c1 + 50 * P));
  /* the cursor is a bound: from below c1, c1 is not looked at even when cold */
  pa->clock = 15;
  below = c1;
  REQUIRE_EQ(gm_pagealloc_scavenge_cold(pa, SIZE_MAX, 5, &below, recorder), 0);
  below = UINTPTR_MAX;
  rec_reset(pa);
  REQUIRE_EQ(gm_pagealloc_scavenge_cold(pa, SIZE_MAX, 5, &below, recorder), 30 * P);
  REQUIRE_EQ(rec_n, 1);
  REQUIRE_EQ(rec_base[0], c1 + 50 * P);
  /* an allocation makes its chunk hot too; the plain scavenge ignores ages */
  gm_pagealloc_free(pa, c0 + 300 * P, 10);
  pa->clock = 30;
  REQUIRE(gm_pagealloc_alloc_at(pa, c0 + 305 * P, 1, &scav));
  pa->clock = 31;
  below = UINTPTR_MAX;
  REQUIRE_EQ(gm_pagealloc_scavenge_cold(pa, SIZE_MAX, 5, &below, recorder), 0);
  REQUIRE_EQ(gm_pagealloc_scavenge(pa, SIZE_MAX, NULL), 9 * P);
  REQUIRE_PA(pa);
  return true;
}

/* In a child with RLIMIT_AS just above what is mapped, grow scattered ranges
 * until metadata runs out: grow must fail with ENOMEM and change nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define GM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GM_TEST_ASAN 1
#endif
#endif

static bool t_enomem(void) {
#ifdef GM_TEST_ASAN
  return true; /* ASan's shadow mappings make RLIMIT_AS unusable */
#else
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    FAILF("fork failed");
  if (pid == 0) {
    static gm_pagealloc_t pa;
    unsigned long vm = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%lu", &vm) != 1)
      _exit(2);
    fclose(f);
    struct rlimit rl = {vm * (unsigned long)sysconf(_SC_PAGESIZE) + (4u << 20), RLIM_INFINITY};
    rl.rlim_max = rl.rlim_cur;
    if (setrlimit(RLIMIT_AS, &rl) != 0)
      _exit(3);
    for (uintptr_t i = 1; i < 100000; i++) {
      uintptr_t base = i * ((uintptr_t)1 << 31) * 7; /* a new block, often a new super */
      if (base >> 48)
        _exit(4);
      size_t total = pa.total_pages, fr = pa.free_pages;
      errno = 0;
      if (gm_pagealloc_grow(&pa, base, 512))
        continue;
      if (errno != ENOMEM || pa.total_pages != total || pa.free_pages != fr || i < 3)
        _exit(5);
      if (gm_pagealloc_check(&pa))
        _exit(6);
      if (gm_pagealloc_alloc(&pa, 1, NULL) != 7 * ((uintptr_t)1 << 31))
        _exit(7);
      if (gm_pagealloc_check(&pa))
        _exit(8);
      _exit(0);
    }
    _exit(9);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    FAILF("ENOMEM child failed: status 0x%x", st);
  return true;
#endif
}

/* ---- randomized model test -------------------------------------------------------- */

/* The model: one byte per page of a window straddling the 64 TiB boundary
 * (so every metadata level splits inside it), first fit by linear scan. */
#define M_CHUNKS 64
#define M_PAGES (M_CHUNKS * 512)
#define M_BASE (((uintptr_t)1 << 46) - 24 * CH)
#define M_SEGS 32

static uint8_t m_free[M_PAGES], m_grown[M_PAGES], m_scav[M_PAGES];
static size_t m_total, m_nfree, m_nscav, m_low;
static struct { size_t page, n; } m_live[M_PAGES];
static size_t m_nlive;
static struct {
  size_t chunk, n;
  bool grown;
} m_seg[M_SEGS];
static size_t m_nseg;

static size_t model_find(size_t n) {
  size_t p = m_low;
  bool first = true;
  while (p < M_PAGES) {
    const uint8_t *q = memchr(m_free + p, 1, M_PAGES - p);
    if (!q)
      return SIZE_MAX;
    p = (size_t)(q - m_free);
    if (first) {
      m_low = p; /* everything below is not free */
      first = false;
    }
    if (M_PAGES - p < n)
      return SIZE_MAX;
    const uint8_t *z = memchr(m_free + p, 0, n);
    if (!z)
      return p;
    p = (size_t)(z - m_free);
  }
  return SIZE_MAX;
}

/* Highest fit: the top of the highest free run of n pages or more. */
static size_t model_find_high(size_t n) {
  size_t run = 0;
  for (size_t i = M_PAGES; i-- > 0;) {
    run = m_free[i] ? run + 1 : 0;
    if (run == n)
      return i;
  }
  return SIZE_MAX;
}

static size_t model_take(size_t p, size_t n) {
  size_t scav = 0;
  for (size_t i = p; i < p + n; i++) {
    scav += m_scav[i];
    m_free[i] = m_scav[i] = 0;
  }
  m_nfree -= n;
  m_nscav -= scav;
  m_live[m_nlive].page = p;
  m_live[m_nlive++].n = n;
  return scav;
}

static void model_free(size_t p, size_t n) {
  memset(m_free + p, 1, n);
  m_nfree += n;
  if (p < m_low)
    m_low = p;
}

static size_t model_size(void) {
  unsigned r = (unsigned)rnd_below(100);
  if (r < 50)
    return 1;
  if (r < 70)
    return 2 + rnd_below(3);
  if (r < 85)
    return 5 + rnd_below(28);
  if (r < 95)
    return 33 + rnd_below(480);
  if (r < 99)
    return 513 + rnd_below(1536);
  return 2049 + rnd_below(6144);
}

struct cmp_ctx {
  size_t chunks, bad;
};

static void cmp_chunk(uintptr_t base, const uint64_t *alloc, const uint64_t *scav, void *arg) {
  struct cmp_ctx *c = arg;
  c->chunks++;
  if (base < M_BASE || base >= M_BASE + M_PAGES * P) {
    c->bad++;
    return;
  }
  size_t p0 = (base - M_BASE) / P;
  for (unsigned i = 0; i < 512; i++) {
    if (!m_grown[p0 + i] || (bool)(alloc[i / 64] >> (i % 64) & 1) == (bool)m_free[p0 + i] ||
        (bool)(scav[i / 64] >> (i % 64) & 1) != (bool)m_scav[p0 + i])
      c->bad++;
  }
}

static bool model_grow_seg(gm_pagealloc_t *pa, size_t s) {
  size_t p = m_seg[s].chunk * 512, n = m_seg[s].n * 512;
  REQUIRE(gm_pagealloc_grow(pa, M_BASE + p * P, n));
  m_seg[s].grown = true;
  memset(m_free + p, 1, n);
  memset(m_grown + p, 1, n);
  memset(m_scav + p, 1, n);
  m_total += n;
  m_nfree += n;
  m_nscav += n;
  if (p < m_low)
    m_low = p;
  return true;
}

static bool t_model(void) {
  gm_pagealloc_t *pa = fresh();
  memset(m_free, 0, sizeof m_free);
  memset(m_grown, 0, sizeof m_grown);
  memset(m_scav, 0, sizeof m_scav);
  m_total = m_nfree = m_nscav = m_low = m_nlive = m_nseg = 0;
  /* cut the window into segments of 1..5 chunks, some left as gaps for now */
  for (size_t c = 0; c < M_CHUNKS;) {
    size_t n = 1 + rnd_below(5);
    if (n > M_CHUNKS - c || m_nseg == M_SEGS - 1)
      n = M_CHUNKS - c;
    m_seg[m_nseg].chunk = c;
    m_seg[m_nseg].n = n;
    m_seg[m_nseg++].grown = false;
    c += n;
  }
  for (size_t k = 0; k < m_nseg; k++) { /* grow 70% of them, in random order */
    size_t s = rnd_below(m_nseg);
    if (!m_seg[s].grown && rnd_below(10) < 7 && !model_grow_seg(pa, s))
      return false;
  }
  if (m_total == 0 && !model_grow_seg(pa, 0))
    return false;
  REQUIRE_PA(pa);

  const int ops = 300000;
  size_t n_alloc = 0, n_fail = 0, n_at = 0, n_scav = 0, n_high = 0;
  for (int op = 0; op < ops; op++) {
    unsigned r = (unsigned)rnd_below(100);
    bool full = m_nfree * 4 < m_total; /* more than 75% in use: lean to freeing */
    if (r < (full ? 35u : 50u)) {
      size_t n = model_size(), scav = 7;
      bool high = rnd_below(4) == 0; /* a quarter highest fit */
      size_t want = high ? model_find_high(n) : model_find(n);
      uintptr_t got = high ? gm_pagealloc_alloc_high(pa, n, &scav) : gm_pagealloc_alloc(pa, n, &scav);
      n_high += high && got;
      if (want == SIZE_MAX) {
        if (got != 0)
          FAILF("op %d: alloc(%zu) = 0x%lx, model has no fit", op, n, (unsigned long)got);
        n_fail++;
      } else {
        if (got != M_BASE + want * P)
          FAILF("op %d: alloc%s(%zu) = 0x%lx, model says 0x%lx", op, high ? "_high" : "", n,
                (unsigned long)got,
                (unsigned long)(M_BASE + want * P));
        size_t ws = model_take(want, n);
        if (scav != ws)
          FAILF("op %d: alloc(%zu) scav %zu, model %zu", op, n, scav, ws);
        n_alloc++;
      }
    } else if (r < 80) {
      if (!m_nlive)
        continue;
      size_t i = rnd_below(m_nlive);
      gm_pagealloc_free(pa, M_BASE + m_live[i].page * P, m_live[i].n);
      model_free(m_live[i].page, m_live[i].n);
      m_live[i] = m_live[--m_nlive];
    } else if (r < 88) { /* free part of a run: head, tail or middle */
      if (!m_nlive)
        continue;
      size_t i = rnd_below(m_nlive), p = m_live[i].page, n = m_live[i].n;
      if (n < 2)
        continue;
      size_t a = rnd_below(n), len = 1 + rnd_below(n - a);
      if (len == n)
        len--, a++;
      gm_pagealloc_free(pa, M_BASE + (p + a) * P, len);
      model_free(p + a, len);
      m_live[i].n = a; /* head keeps the slot, tail gets a new one */
      if (a + len < n) {
        m_live[m_nlive].page = p + a + len;
        m_live[m_nlive++].n = n - a - len;
      }
      if (m_live[i].n == 0)
        m_live[i] = m_live[--m_nlive];
    } else if (r < 94) {
      size_t p = rnd_below(M_PAGES), n = rnd_below(4) ? 1 + rnd_below(16) : model_size(), scav;
      bool want = p + n <= M_PAGES && !memchr(m_free + p, 0, n);
      bool got = gm_pagealloc_alloc_at(pa, M_BASE + p * P, n, &scav);
      if (got != want)
        FAILF("op %d: alloc_at(+%zu, %zu) = %d, model %d", op, p, n, got, want);
      if (got) {
        size_t ws = model_take(p, n);
        if (scav != ws)
          FAILF("op %d: alloc_at scav %zu, model %zu", op, scav, ws);
        n_at++;
      }
    } else if (r < 98) {
      size_t pages = rnd_below(3) ? rnd_below(64) : rnd_below(4096);
      size_t bytes = pages * P - (pages && rnd_below(2) ? rnd_below(P) : 0);
      /* model: the top `pages` free unscavenged pages, merged into runs */
      size_t wr = 0, taken = 0;
      static uintptr_t wbase[MAX_REC];
      static size_t wlen[MAX_REC];
      for (size_t i = M_PAGES; i-- > 0 && taken < pages;) {
        if (!m_free[i] || m_scav[i])
          continue;
        m_scav[i] = 1;
        taken++;
        uintptr_t a = M_BASE + i * P;
        if (wr && wbase[wr - 1] == a + P) {
          wbase[wr - 1] = a;
          wlen[wr - 1] += P;
        } else if (wr < MAX_REC) {
          wbase[wr] = a;
          wlen[wr++] = P;
        } else {
          FAILF("too many runs");
        }
      }
      m_nscav += taken;
      rec_reset(pa);
      size_t got = gm_pagealloc_scavenge(pa, bytes, recorder);
      if (got != taken * P || rec_n != wr || rec_bad)
        FAILF("op %d: scavenge(%zu) = %zu in %zu calls (bad %d), model %zu in %zu", op, bytes,
              got / P, rec_n, rec_bad, taken, wr);
      for (size_t k = 0; k < wr; k++)
        if (rec_base[k] != wbase[k] || rec_len[k] != wlen[k])
          FAILF("op %d: release %zu = (0x%lx, %zu), model (0x%lx, %zu)", op, k,
                (unsigned long)rec_base[k], rec_len[k] / P, (unsigned long)wbase[k], wlen[k] / P);
      n_scav++;
    } else {
      size_t s = rnd_below(m_nseg);
      if (!m_seg[s].grown && !model_grow_seg(pa, s))
        return false;
    }
    REQUIRE_EQ(gm_pagealloc_total_pages(pa), m_total);
    if (gm_pagealloc_free_pages(pa) != m_nfree || gm_pagealloc_scavenged_pages(pa) != m_nscav)
      FAILF("op %d: counters free %zu scav %zu, model %zu %zu", op, gm_pagealloc_free_pages(pa),
            gm_pagealloc_scavenged_pages(pa), m_nfree, m_nscav);
    for (int k = 0; k < 2; k++) {
      size_t p = rnd_below(M_PAGES);
      if (gm_pagealloc_is_free(pa, M_BASE + p * P) != (bool)m_free[p] ||
          gm_pagealloc_is_scavenged(pa, M_BASE + p * P) != (bool)m_scav[p])
        FAILF("op %d: page +%zu state differs from the model", op, p);
    }
    if (op % 5000 == 0 || op == ops - 1) {
      REQUIRE_PA(pa);
      struct cmp_ctx c = {0, 0};
      gm_pagealloc_for_each_chunk(pa, cmp_chunk, &c);
      if (c.bad || c.chunks != m_total / 512)
        FAILF("op %d: bitmaps differ from the model (%zu pages, %zu chunks)", op, c.bad, c.chunks);
    }
  }
  printf("     model: %d ops, %zu allocs (%zu highest fit, %zu no fit), %zu alloc_at, %zu "
         "scavenges\n",
         ops, n_alloc, n_high, n_fail, n_at, n_scav);
  return true;
}

/* ---- scale: 64 GiB of address space, ~2 million operations ------------------------ */

#define S_CHUNKS 16384 /* 64 GiB */
#define S_PAGES ((size_t)S_CHUNKS * 512)
#define S_LIVE 1000000
#define S_BATCH 1024

static uint64_t *s_bits; /* our own view of the in-use pages */
static struct { uint32_t page, n; } * s_live;
static size_t s_nlive;

static size_t scale_size(void) {
  unsigned r = (unsigned)rnd_below(1000);
  if (r < 800)
    return 1;
  if (r < 970)
    return 2 + rnd_below(7);
  if (r < 997)
    return 9 + rnd_below(56);
  return 65 + rnd_below(960);
}

static bool s_get(size_t p) { return s_bits[p / 64] >> (p % 64) & 1; }

/* First fit in our own bitmap (for spot checks of the allocator's answer). */
static size_t s_find(size_t n) {
  size_t run = 0;
  for (size_t w = 0; w < S_PAGES / 64; w++) {
    if (s_bits[w] == ~0ull) {
      run = 0;
      continue;
    }
    if (s_bits[w] == 0 && run + 64 < n) {
      run += 64;
      continue;
    }
    for (size_t p = w * 64; p < w * 64 + 64; p++) {
      run = s_get(p) ? 0 : run + 1;
      if (run == n)
        return p + 1 - n;
    }
  }
  return SIZE_MAX;
}

static bool s_record(uintptr_t a, size_t n, uintptr_t base) {
  if (a == 0) {
    if (s_find(n) != SIZE_MAX)
      FAILF("scale: alloc(%zu) failed but a fit exists", n);
    return true;
  }
  if (a < base || (a - base) % P || (a - base) / P + n > S_PAGES)
    FAILF("scale: alloc(%zu) = 0x%lx out of range", n, (unsigned long)a);
  size_t p = (a - base) / P;
  for (size_t i = p; i < p + n; i++) {
    if (s_get(i))
      FAILF("scale: alloc(%zu) = 0x%lx overlaps a live run", n, (unsigned long)a);
    s_bits[i / 64] |= 1ull << (i % 64);
  }
  s_live[s_nlive].page = (uint32_t)p;
  s_live[s_nlive++].n = (uint32_t)n;
  return true;
}

/* Thread CPU time: the numbers are for information only, and on a shared
 * machine wall time mostly measures the neighbours. */
static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct s_cmp {
  uintptr_t base;
  size_t bad, chunks;
};

static void s_cmp_chunk(uintptr_t cb, const uint64_t *alloc, const uint64_t *scav, void *arg) {
  struct s_cmp *c = arg;
  (void)scav;
  size_t w0 = (cb - c->base) / P / 64;
  for (int w = 0; w < 8; w++)
    c->bad += alloc[w] != s_bits[w0 + w];
  c->chunks++;
}

static bool t_scale(void) {
  const uintptr_t base = (uintptr_t)0x7e0000000000;
  gm_pagealloc_t *pa = fresh();
  s_bits = calloc(S_PAGES / 64, sizeof *s_bits);
  s_live = malloc(sizeof *s_live * (S_LIVE + S_BATCH));
  REQUIRE(s_bits && s_live);
  s_nlive = 0;
  /* 64 pieces of 1 GiB, grown in a shuffled order, contiguous in the end */
  int order[64];
  for (int i = 0; i < 64; i++)
    order[i] = i;
  for (int i = 63; i > 0; i--) {
    int j = (int)rnd_below((uint64_t)i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int i = 0; i < 64; i++)
    REQUIRE(gm_pagealloc_grow(pa, base + (uintptr_t)order[i] * ((uintptr_t)1 << 30), 256 * 512));
  REQUIRE_EQ(gm_pagealloc_total_pages(pa), S_PAGES);
  REQUIRE_PA(pa);
  size_t meta = pa->meta_bytes;
  REQUIRE(meta <= 64 * 40 * 1024); /* under 40 KiB per GiB */

  uintptr_t got[S_BATCH];
  size_t sz[S_BATCH];
  double t_alloc = 0, t_free = 0;
  size_t n_alloc = 0, n_free = 0, n_spot = 0;
  /* fill to a million live runs (about half the pages) */
  while (s_nlive < S_LIVE) {
    for (int i = 0; i < S_BATCH; i++)
      sz[i] = scale_size();
    double t0 = now_ns();
    for (int i = 0; i < S_BATCH; i++)
      got[i] = gm_pagealloc_alloc(pa, sz[i], NULL);
    t_alloc += now_ns() - t0;
    n_alloc += S_BATCH;
    for (int i = 0; i < S_BATCH; i++)
      if (!s_record(got[i], sz[i], base))
        return false;
  }
  double fill_ns = t_alloc / (double)n_alloc;
  t_alloc = 0;
  n_alloc = 0;
  /* steady state: batches of random frees, then as many allocations */
  size_t rounds = 1000000 / S_BATCH;
  for (size_t r = 0; r < rounds; r++) {
    for (int i = 0; i < S_BATCH; i++) {
      size_t k = rnd_below(s_nlive);
      got[i] = base + (uintptr_t)s_live[k].page * P;
      sz[i] = s_live[k].n;
      s_live[k] = s_live[--s_nlive];
      for (size_t p = (got[i] - base) / P, e = p + sz[i]; p < e; p++)
        s_bits[p / 64] &= ~(1ull << (p % 64));
    }
    double t0 = now_ns();
    for (int i = 0; i < S_BATCH; i++)
      gm_pagealloc_free(pa, got[i], sz[i]);
    t_free += now_ns() - t0;
    n_free += S_BATCH;
    for (int i = 0; i < S_BATCH; i++)
      sz[i] = scale_size();
    t0 = now_ns();
    for (int i = 0; i < S_BATCH; i++)
      got[i] = gm_pagealloc_alloc(pa, sz[i], NULL);
    t_alloc += now_ns() - t0;
    n_alloc += S_BATCH;
    for (int i = 0; i < S_BATCH; i++)
      if (!s_record(got[i], sz[i], base))
        return false;
    if (r % 16 == 0) { /* spot-check first fit against our own bitmap */
      size_t n = scale_size();
      size_t want = s_find(n);
      uintptr_t a = gm_pagealloc_alloc(pa, n, NULL);
      REQUIRE_EQ(a, want == SIZE_MAX ? 0 : base + want * P);
      if (!s_record(a, n, base))
        return false;
      n_spot++;
    }
  }
  size_t live_pages = 0;
  for (size_t i = 0; i < s_nlive; i++)
    live_pages += s_live[i].n;
  REQUIRE_EQ(gm_pagealloc_free_pages(pa), S_PAGES - live_pages);
  struct s_cmp c = {base, 0, 0};
  gm_pagealloc_for_each_chunk(pa, s_cmp_chunk, &c);
  REQUIRE_EQ(c.chunks, S_CHUNKS);
  REQUIRE_EQ(c.bad, 0);
  size_t scav0 = gm_pagealloc_scavenged_pages(pa);
  double t0 = now_ns();
  size_t rel = gm_pagealloc_scavenge(pa, SIZE_MAX, NULL);
  double t_scav = now_ns() - t0;
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), scav0 + rel / P);
  REQUIRE_EQ(gm_pagealloc_scavenged_pages(pa), S_PAGES - live_pages);
  REQUIRE_PA(pa);
  printf("     scale: 64 GiB, %zu live runs (%.0f%% of pages in use), metadata %zu KiB\n", s_nlive,
         100.0 * (double)live_pages / (double)S_PAGES, meta >> 10);
  printf("     scale: fill %.0f ns/alloc; steady %.0f ns/alloc, %.0f ns/free (%zu + %zu ops, "
         "%zu first-fit spot checks); scavenge-all %.1f ms\n",
         fill_ns, t_alloc / (double)n_alloc, t_free / (double)n_free, n_alloc, n_free, n_spot,
         t_scav / 1e6);
  free(s_bits);
  free(s_live);
  return true;
}

/* ---- driver ------------------------------------------------------------------------- */

static void run(const char *name, bool (*fn)(void)) {
  g_rng = g_seed ^ (uint64_t)strlen(name) * 0x2545f4914f6cdd1dull;
  bool ok = fn();
  if (CHECK(ok, "case %s (GM_SEED=%llu)", name, g_seed))
    printf("ok   %s\n", name);
  fflush(stdout);
}

int main(void) {
  const char *s = getenv("GM_SEED");
  if (s && *s)
    g_seed = strtoull(s, NULL, 0);
  run("bits", t_bits);
  run("single_pages", t_single_pages);
  run("straddle", t_straddle);
  run("boundaries", t_boundaries);
  run("alloc_at", t_alloc_at);
  run("free_realloc", t_free_realloc);
  run("coalesce", t_coalesce);
  run("gaps", t_gaps);
  run("exhaust", t_exhaust);
  run("grow_args", t_grow_args);
  run("scavenge", t_scavenge);
  run("scavenge_cold", t_scavenge_cold);
  run("enomem", t_enomem);
  run("model", t_model);
  run("scale", t_scale);
  return check_summary();
}
