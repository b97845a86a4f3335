/* Randomized model test of the whole allocator through the gm_* API:
 * millions of malloc/calloc/realloc/aligned/free operations over sizes in
 * every class and into large sizes. Every block is filled with a pattern
 * derived from its address and size and checked on free and realloc; live
 * blocks must never overlap; usable size >= request; alignment holds.
 * Then the same with threads that hand blocks to each other, are created
 * and exit repeatedly; at the end every page is accounted for and the
 * emptied heap holds no live object. GM_OPS scales the work, GM_SEED
 * picks the seed. */
#include "unit.h"

#include "gomalloc.h"
#include "mcache.h"
#include "stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

typedef struct block {
  unsigned char *p;
  size_t size;
  size_t align;
} block_t;

/* The pattern: 64-bit words derived from the block's address and size,
 * so a block that overlaps another, or moves without its contents, shows. */
static uint64_t pattern_word(const void *base, size_t size, size_t i) {
  uint64_t x = ((uint64_t)(uintptr_t)base ^ (size * 0x9e3779b97f4a7c15ULL)) + i * 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 29);
}

static void fill(block_t *b) {
  size_t i = 0;
  for (; i + 8 <= b->size; i += 8) {
    uint64_t w = pattern_word(b->p, b->size, i);
    memcpy(b->p + i, &w, 8);
  }
  for (; i < b->size; i++)
    b->p[i] = (unsigned char)pattern_word(b->p, b->size, i);
}

/* Check the pattern of the first n bytes (as written for base/size). */
static int verify(const unsigned char *p, const void *base, size_t size, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n && i + 8 <= size; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w != pattern_word(base, size, i))
      return 0;
  }
  if (n > size)
    n = size;
  size_t whole = size & ~(size_t)7; /* bytes that fill() wrote as whole words */
  for (; i < n; i++) {
    unsigned char want = i < whole ? (unsigned char)(pattern_word(base, size, i & ~(size_t)7) >> (8 * (i % 8)))
                                   : (unsigned char)pattern_word(base, size, i);
    if (p[i] != want)
      return 0;
  }
  return 1;
}

static size_t pick_size(unsigned long long *rs) {
  unsigned r = unit_rand(rs) % 1000;
  if (r < 550)
    return unit_rand(rs) % 257;          /* 0..256 */
  if (r < 800)
    return 257 + unit_rand(rs) % 3840;   /* ..4 KiB */
  if (r < 950)
    return 4097 + unit_rand(rs) % 28672; /* ..32 KiB: every class */
  if (r < 998)
    return 32769 + unit_rand(rs) % (256 << 10); /* large */
  return (256 << 10) + unit_rand(rs) % (4 << 20);
}

static atomic_ulong failures;

static void fail(const char *what, const void *p, size_t size) {
  atomic_fetch_add(&failures, 1);
  fprintf(stderr, "FAIL %s: block %p size %zu\n", what, p, size);
}

static void check_new(block_t *b) {
  if (!b->p) {
    fail("allocation returned NULL", NULL, b->size);
    return;
  }
  size_t us = gm_usable_size(b->p);
  if (us < b->size)
    fail("usable size below request", b->p, b->size);
  size_t want = b->align ? b->align : (b->size >= 16 ? 16 : 8);
  if ((uintptr_t)b->p % want)
    fail("misaligned block", b->p, b->size);
}

static void release(block_t *b) {
  if (!verify(b->p, b->p, b->size, b->size))
    fail("pattern corrupted at free", b->p, b->size);
  gm_free(b->p);
  b->p = NULL;
}

/* One operation on table[slot]. */
static void step(block_t *table, size_t nslots, unsigned long long *rs) {
  block_t *b = &table[unit_rand(rs) % nslots];
  if (b->p) {
    unsigned r = unit_rand(rs) % 4;
    if (r == 0) { /* realloc keeps the prefix */
      size_t ns = pick_size(rs);
      if (ns == 0)
        ns = 1;
      unsigned char *q = gm_realloc(b->p, ns);
      if (!q) {
        fail("realloc returned NULL", b->p, ns);
        return;
      }
      size_t keep = ns < b->size ? ns : b->size;
      if (!verify(q, b->p, b->size, keep))
        fail("realloc lost contents", q, ns);
      b->p = q;
      b->size = ns;
      b->align = 0;
      check_new(b);
      fill(b);
    } else {
      release(b);
    }
    return;
  }
  b->size = pick_size(rs);
  b->align = 0;
  unsigned r = unit_rand(rs) % 10;
  if (r < 6) {
    b->p = gm_malloc(b->size);
  } else if (r < 8) {
    b->p = gm_calloc(1, b->size);
    if (b->p)
      for (size_t i = 0; i < b->size; i++)
        if (b->p[i]) {
          fail("calloc memory not zero", b->p, b->size);
          break;
        }
  } else {
    b->align = (size_t)16 << (unit_rand(rs) % 13); /* 16 B .. 64 KiB */
    if (unit_rand(rs) % 8 == 0)
      b->align = (size_t)1 << (17 + unit_rand(rs) % 5); /* .. 2 MiB */
    b->p = gm_aligned_alloc(b->align, b->size);
  }
  check_new(b);
  if (b->p)
    fill(b);
}

static int cmp_block(const void *x, const void *y) {
  const block_t *a = x, *b = y;
  return (uintptr_t)a->p < (uintptr_t)b->p ? -1 : (uintptr_t)a->p > (uintptr_t)b->p;
}

/* No two live blocks overlap (by usable size, the strongest claim). */
static void check_overlap(block_t *table, size_t n) {
  block_t *copy = malloc(n * sizeof *copy);
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (table[i].p)
      copy[m++] = table[i];
  qsort(copy, m, sizeof *copy, cmp_block);
  for (size_t i = 1; i < m; i++)
    if ((uintptr_t)copy[i - 1].p + gm_usable_size(copy[i - 1].p) > (uintptr_t)copy[i].p)
      fail("live blocks overlap", copy[i].p, copy[i].size);
  free(copy);
}

static size_t env_ops(size_t dflt) {
  const char *s = getenv("GM_OPS");
  return s ? strtoull(s, NULL, 0) : dflt;
}

static void single_threaded(void) {
  size_t nslots = 4096, ops = env_ops(2000000);
  block_t *table = calloc(nslots, sizeof *table);
  unsigned long long rs = unit_seed();
  for (size_t i = 0; i < ops; i++) {
    step(table, nslots, &rs);
    if (i % 200000 == 0)
      check_overlap(table, nslots);
  }
  check_overlap(table, nslots);
  for (size_t i = 0; i < nslots; i++)
    if (table[i].p)
      release(&table[i]);
  free(table);
  gm_thread_flush();
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "census: %s", c.error);
  CHECK(c.live_objects == 0, "live objects after freeing everything: %zu", c.live_objects);
  CHECK(c.span_pages + c.free_pages == c.total_pages, "pages unaccounted");
  CHECK(failures == 0, "%lu block failures (single-threaded)", (unsigned long)failures);
}

/* ---- multi-threaded: per-thread tables plus an exchange array whose
 * slots threads swap blocks through, so frees happen on other threads. */
#define XCHG_SLOTS 1024
static _Atomic(block_t *) exchange[XCHG_SLOTS];

typedef struct worker {
  pthread_t tid;
  unsigned long long seed;
  size_t ops;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  size_t nslots = 512;
  block_t *table = gm_calloc(nslots, sizeof *table);
  unsigned long long rs = w->seed;
  for (size_t i = 0; i < w->ops; i++) {
    if (unit_rand(&rs) % 4 == 0) {
      /* Hand a live block over, take whatever was there. */
      block_t *b = &table[unit_rand(&rs) % nslots];
      block_t *give = NULL;
      if (b->p) {
        give = gm_malloc(sizeof *give);
        *give = *b;
        b->p = NULL;
      }
      block_t *got = atomic_exchange(&exchange[unit_rand(&rs) % XCHG_SLOTS], give);
      if (got) {
        release(got); /* usually allocated by another thread */
        gm_free(got);
      }
    } else {
      step(table, nslots, &rs);
    }
  }
  for (size_t i = 0; i < nslots; i++)
    if (table[i].p)
      release(&table[i]);
  gm_free(table);
  return NULL;
}

static void multi_threaded(int nthreads, int rounds) {
  size_t ops = env_ops(2000000) / (size_t)(nthreads * rounds) + 1000;
  unsigned long long seed = unit_seed();
  for (int r = 0; r < rounds; r++) {
    worker_t w[16];
    for (int t = 0; t < nthreads; t++) {
      w[t].seed = seed ^ ((unsigned long long)(r * 16 + t + 1) * 0x9e3779b97f4a7c15ULL);
      w[t].ops = ops;
      pthread_create(&w[t].tid, NULL, worker_main, &w[t]);
    }
    for (int t = 0; t < nthreads; t++)
      pthread_join(w[t].tid, NULL);
    gm_census_t c;
    gm_heap_census(&c);
    CHECK(c.error == NULL, "census after round %d: %s", r, c.error);
    CHECK(c.mcaches <= 1, "mcaches of exited threads remain: %zu", c.mcaches);
  }
  for (int i = 0; i < XCHG_SLOTS; i++) {
    block_t *b = atomic_exchange(&exchange[i], NULL);
    if (b) {
      release(b);
      gm_free(b);
    }
  }
  gm_thread_flush();
  gm_mcache_flush_spares(true); /* the exited threads' caches, kept for new threads */
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "census: %s", c.error);
  CHECK(c.live_objects == 0, "live objects after freeing everything: %zu (%d threads)",
        c.live_objects, nthreads);
  CHECK(c.cached_spans == 0, "cached spans after every thread flushed: %zu", c.cached_spans);
  CHECK(c.span_pages + c.free_pages == c.total_pages, "pages unaccounted");
  CHECK(failures == 0, "%lu block failures (%d threads)", (unsigned long)failures, nthreads);
}

int main(void) {
  single_threaded();
  multi_threaded(4, 4);
  multi_threaded(16, 2);
  return check_summary();
}
