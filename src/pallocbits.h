/* pallocbits.h: the per-chunk page bitmap (Go's pallocBits): 512 bits in 8
 * uint64_t words, bit i of word w is page w*64+i of the chunk, 1 = in use.
 * Everything here is word arithmetic (ctz/clz/popcount and the shift-and run
 * search); pagealloc.c builds the tree on top. Header-only so the hot loops
 * inline into the allocator and the unit test can check them directly. */
#ifndef GM_PALLOCBITS_H
#define GM_PALLOCBITS_H

#include <stdbool.h>
#include <stdint.h>

#include "pagealloc.h"

#define GM_PB_WORDS 8
#define GM_PB_PAGES 512
#define GM_PB_NONE (~0u)

/* Without -mpopcnt, __builtin_popcountll is a libgcc call; the SWAR form
 * is a dozen inline ALU ops and this sits on the alloc path. */
static inline unsigned gm_pb_popcount(uint64_t x) {
#if defined(__POPCNT__) || defined(__aarch64__)
  return (unsigned)__builtin_popcountll(x);
#else
  x -= (x >> 1) & 0x5555555555555555ull;
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (unsigned)((x * 0x0101010101010101ull) >> 56);
#endif
}

/* n consecutive bits starting at bit lo; 1 <= n, lo + n <= 64. */
static inline uint64_t gm_pb_mask(unsigned lo, unsigned n) {
  return (n >= 64 ? ~0ull : ((1ull << n) - 1)) << lo;
}

/* Bit i of the result is set iff bits i..i+n-1 of c are all set (1 <= n <= 64).
 * Doubling: while every set bit marks a run of k ones, c & (c >> s) with
 * s <= k marks runs of k + s, so about log2(n) steps. Bits shifted in from
 * above are zero, so runs never wrap past bit 63. */
static inline uint64_t gm_pb_runs64(uint64_t c, unsigned n) {
  unsigned k = 1;
  while (k < n && c) {
    unsigned s = n - k < k ? n - k : k;
    c &= c >> s;
    k += s;
  }
  return c;
}

/* Go's findBitRange64: lowest i with bits i..i+n-1 of c set, or 64. */
static inline unsigned gm_pb_find_range64(uint64_t c, unsigned n) {
  c = gm_pb_runs64(c, n);
  return c ? (unsigned)__builtin_ctzll(c) : 64;
}

/* Summary of a chunk bitmap (all counts in 0..512). Runs that touch a word
 * edge are measured with ctz/clz while walking the words; a run strictly
 * inside one word can only matter if it beats the best so far, which the
 * shift-and test decides without enumerating runs. */
static inline gm_pa_sum_t gm_pb_summarize(const uint64_t *b) {
  unsigned start = 0, max = 0, cur = 0;
  bool seen = false; /* seen an in-use page yet */
  for (unsigned w = 0; w < GM_PB_WORDS; w++) {
    uint64_t x = b[w];
    if (x == 0) {
      cur += 64;
      continue;
    }
    cur += (unsigned)__builtin_ctzll(x);
    if (!seen) {
      start = cur;
      seen = true;
    }
    if (cur > max)
      max = cur;
    cur = (unsigned)__builtin_clzll(x);
  }
  if (!seen)
    return (gm_pa_sum_t){GM_PB_PAGES, GM_PB_PAGES, GM_PB_PAGES};
  if (cur > max)
    max = cur;
  for (unsigned w = 0; w < GM_PB_WORDS; w++) {
    uint64_t f = ~b[w];
    if (gm_pb_popcount(f) <= max)
      continue;
    /* Runs of length > max exist iff c != 0; each c &= c >> 1 lengthens by one. */
    for (uint64_t c = gm_pb_runs64(f, max + 1); c; c &= c >> 1)
      max++;
  }
  return (gm_pa_sum_t){start, max, cur};
}

/* First fit of n (1..512) free pages at or after page `from` (< 512), pages
 * below `from` counting as in use. Returns the page index or GM_PB_NONE;
 * *first_free gets the first free page at or after `from` (GM_PB_NONE if
 * none), which the caller uses to advance its search address. */
static inline unsigned gm_pb_find(const uint64_t *b, unsigned n, unsigned from,
                                  unsigned *first_free) {
  unsigned w0 = from / 64;
  uint64_t below = from % 64 ? (1ull << (from % 64)) - 1 : 0;
  unsigned w = w0;
  uint64_t f = ~b[w] & ~below;
  while (f == 0) {
    if (++w == GM_PB_WORDS) {
      *first_free = GM_PB_NONE;
      return GM_PB_NONE;
    }
    f = ~b[w];
  }
  *first_free = w * 64 + (unsigned)__builtin_ctzll(f);
  if (n == 1)
    return *first_free;
  if (n <= 64) {
    /* Either the free top of the previous word plus the free bottom of
     * this one, or a run inside this word; the straddling one is lower. */
    unsigned run = 0;
    for (;;) {
      unsigned low = f == ~0ull ? 64 : (unsigned)__builtin_ctzll(~f);
      if (run + low >= n)
        return w * 64 - run;
      unsigned i = gm_pb_find_range64(f, n);
      if (i < 64)
        return w * 64 + i;
      run = (unsigned)__builtin_clzll(~f); /* ~f != 0 here: low < 64 */
      if (++w == GM_PB_WORDS)
        return GM_PB_NONE;
      f = ~b[w];
    }
  }
  /* n > 64: only runs spanning whole words can fit; track the current one. */
  unsigned run = 0, base = 0;
  for (;;) {
    if (f == ~0ull) {
      if (run == 0)
        base = w * 64;
      run += 64;
      if (run >= n)
        return base;
    } else {
      if (run + (unsigned)__builtin_ctzll(~f) >= n)
        return base;
      run = (unsigned)__builtin_clzll(~f);
      base = (w + 1) * 64 - run;
    }
    if (++w == GM_PB_WORDS)
      return GM_PB_NONE;
    f = ~b[w];
  }
}

/* Range helpers over pages [i, i+n) of a chunk, i + n <= 512: one mask per
 * word touched. */
static inline unsigned gm_pb_step(unsigned i, unsigned n, uint64_t *m) {
  unsigned k = 64 - i % 64 < n ? 64 - i % 64 : n;
  *m = gm_pb_mask(i % 64, k);
  return k;
}

/* Mark [i, i+n) in use; clear and count their scavenged bits. */
static inline unsigned gm_pb_alloc_range(uint64_t *alloc, uint64_t *scav, unsigned i, unsigned n) {
  unsigned scavenged = 0;
  while (n) {
    uint64_t m;
    unsigned k = gm_pb_step(i, n, &m), w = i / 64;
    alloc[w] |= m;
    if (scav[w] & m) {
      scavenged += gm_pb_popcount(scav[w] & m);
      scav[w] &= ~m;
    }
    i += k;
    n -= k;
  }
  return scavenged;
}

/* True if every bit of [i, i+n) equals `set`. */
static inline bool gm_pb_range_is(const uint64_t *b, unsigned i, unsigned n, bool set) {
  while (n) {
    uint64_t m;
    unsigned k = gm_pb_step(i, n, &m);
    if ((b[i / 64] & m) != (set ? m : 0))
      return false;
    i += k;
    n -= k;
  }
  return true;
}

static inline void gm_pb_clear_range(uint64_t *b, unsigned i, unsigned n) {
  while (n) {
    uint64_t m;
    unsigned k = gm_pb_step(i, n, &m);
    b[i / 64] &= ~m;
    i += k;
    n -= k;
  }
}

#endif /* GM_PALLOCBITS_H */
