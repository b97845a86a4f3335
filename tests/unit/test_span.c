/* Span bitmaps, the allocCache fast path and sweep, on span structs that
 * describe a fake address range (the objects are never touched). */
#include "unit.h"

#include "free.h"
#include "span.h"

#include <string.h>

static union {
  gm_mspan_t s;
  unsigned char raw[sizeof(gm_mspan_t) + 3 * 16 * sizeof(uint64_t)];
} buf;

static gm_mspan_t *new_span(unsigned cls) {
  gm_mspan_t *s = &buf.s;
  memset(&buf, 0, sizeof buf);
  gm_span_init(s, 0x100000000000ULL, gm_class_to_allocnpages[cls], gm_make_spanclass(cls, false));
  s->state = GM_SPAN_CACHED;
  return s;
}

/* Allocate until exhausted the way the mcache does; return the count and
 * record indices in seen. */
static unsigned alloc_all(gm_mspan_t *s, unsigned char *seen) {
  unsigned n = 0;
  for (;;) {
    void *p = gm_span_next_free_fast(s);
    if (!p) {
      if (!gm_span_refill_cache(s))
        break;
      continue;
    }
    uintptr_t off = (uintptr_t)p - s->base;
    size_t idx = gm_span_obj_index(s, off);
    CHECK(off % s->elemsize == 0, "slot offset %zu not a multiple of %zu", (size_t)off, s->elemsize);
    CHECK(idx < s->nelems, "index %zu past nelems %u", idx, s->nelems);
    if (idx < s->nelems) {
      CHECK(!seen[idx], "slot %zu handed out twice", idx);
      seen[idx] = 1;
    }
    n++;
  }
  return n;
}

static void test_class(unsigned cls, unsigned long long *rs) {
  gm_mspan_t *s = new_span(cls);
  unsigned char seen[GM_MAX_OBJS_PER_SPAN];
  memset(seen, 0, sizeof seen);
  CHECK(gm_span_check(s) == NULL, "fresh span: %s", gm_span_check(s));
  unsigned n = alloc_all(s, seen);
  CHECK(n == s->nelems, "class %u: allocated %u of %u slots", cls, n, s->nelems);
  CHECK(!gm_span_has_frees(s), "class %u: frees before any free", cls);
  CHECK(gm_span_sweep(s) == 0, "class %u: sweeping a full span found free slots", cls);
  CHECK(s->alloc_count == s->nelems, "class %u: alloc_count %u", cls, s->alloc_count);

  /* Free a random subset, half as the owner, half remotely. */
  unsigned char freed[GM_MAX_OBJS_PER_SPAN];
  memset(freed, 0, sizeof freed);
  unsigned nfreed = 0;
  for (unsigned i = 0; i < s->nelems; i++) {
    if (unit_rand(rs) % 3)
      continue;
    freed[i] = 1;
    nfreed++;
    if (unit_rand(rs) & 1) {
      *gm_span_lfree(s, i / 64) |= 1ULL << (i % 64);
      s->notify_ctr--; /* what the owner's free does */
    } else {
      gm_free_remote(s, i, (void *)(s->base + i * s->elemsize));
    }
  }
  CHECK(gm_span_has_frees(s) == (nfreed > 0), "class %u: has_frees", cls);
  unsigned nfree = gm_span_sweep(s);
  CHECK(nfree == nfreed, "class %u: sweep found %u free slots, freed %u", cls, nfree, nfreed);
  CHECK(s->alloc_count == s->nelems - nfreed, "class %u: alloc_count after sweep", cls);
  CHECK(gm_span_check(s) == NULL, "class %u after sweep: %s", cls, gm_span_check(s));
  CHECK(!gm_span_has_frees(s), "class %u: free bits left after sweep", cls);
  /* Exactly the freed slots come back, lowest first. */
  memset(seen, 0, sizeof seen);
  unsigned again = alloc_all(s, seen);
  CHECK(again == nfreed, "class %u: reallocated %u, expected %u", cls, again, nfreed);
  for (unsigned i = 0; i < s->nelems; i++)
    if (seen[i] != freed[i]) {
      CHECK(0, "class %u: slot %u reallocated=%d freed=%d", cls, i, seen[i], freed[i]);
      break;
    }
  CHECK(s->needzero || nfreed == 0, "class %u: reused slots must be marked dirty", cls);

  /* Sweep a span partway through allocation: slots below freeindex stay. */
  s = new_span(cls);
  memset(seen, 0, sizeof seen);
  unsigned half = s->nelems / 2;
  for (unsigned i = 0; i < half; i++) {
    if (!gm_span_next_free_fast(s))
      gm_span_refill_cache(s), gm_span_next_free_fast(s);
  }
  gm_span_sweep(s);
  CHECK(s->alloc_count == half, "class %u: partial sweep counts %u, expected %u", cls,
        s->alloc_count, half);
}

/* The cache's refill sets every alloc bit of the word it leaves (all its
 * slots were handed out), so that free's fast check needs freeindex only
 * in the word being handed out (free.h); the word being handed out keeps
 * its bits as of the last sweep. */
static void test_refill_marks_left_word(unsigned cls) {
  gm_mspan_t *s = new_span(cls);
  if (s->nwords < 2)
    return;
  for (unsigned i = 0; i < 64; i++)
    CHECK(gm_span_next_free_fast(s) != NULL, "class %u: slot %u of word 0", cls, i);
  CHECK(*gm_span_abits(s, 0) == 0, "class %u: word 0 written while handed out", cls);
  CHECK(gm_span_refill_cache(s), "class %u: no second word", cls);
  CHECK(*gm_span_abits(s, 0) == ~0ULL, "class %u: word 0 left unmarked: %#llx", cls,
        (unsigned long long)*gm_span_abits(s, 0));
  CHECK(s->freeindex == 64 && *gm_span_abits(s, 1) != ~0ULL, "class %u: word 1 marked early",
        cls);
  /* An allocated slot below freeindex in the current word, and one freed
   * since: the sweep keeps the first and frees the second, as before. */
  CHECK(gm_span_next_free_fast(s) != NULL && gm_span_next_free_fast(s) != NULL,
        "class %u: word 1 slots", cls);
  *gm_span_lfree(s, 0) |= 1;
  s->notify_ctr--;
  gm_span_sweep(s);
  CHECK(s->alloc_count == 65, "class %u: swept count %u, expected 65", cls, s->alloc_count);
  CHECK(*gm_span_abits(s, 0) == ~1ULL, "class %u: word 0 after sweep %#llx", cls,
        (unsigned long long)*gm_span_abits(s, 0));
}

int main(void) {
  unsigned long long rs = unit_seed();
  for (unsigned cls = 1; cls < GM_NUM_CLASSES; cls++)
    test_refill_marks_left_word(cls);
  for (unsigned cls = 1; cls < GM_NUM_CLASSES; cls++)
    for (int rep = 0; rep < 20; rep++)
      test_class(cls, &rs);
  return check_summary();
}
