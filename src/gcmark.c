/* gcmark.c: marking (Go's mgcmark.go: scanConservative, findObject,
 * greyobject), with the world stopped.
 *
 * A candidate word is first checked against the bounds of every GC span
 * (one subtraction and compare: most words of a stack or a data segment
 * are not heap addresses), then looked up as free looks a pointer up (the
 * window, else the arena map), and must land in a GC span, inside an
 * allocated slot (Go's isFree: below freeindex or set in allocBits) that
 * was not freed by gm_gc_free. Any byte of a block keeps it: the slot
 * index comes from divMul, so interior pointers cost nothing more. The
 * mark bit is set, and the block pushed on the mark stack unless its span
 * is noscan (Go's greyobject: noscan objects are black at once).
 *
 * The mark stack is explicit, mapped (never malloc'd: a stopped thread may
 * hold malloc's locks) and doubles when full; it is kept between cycles. */
#include "gc.h"

#include "error.h"
#include "options.h"
#include "os.h"

#include <string.h>

static gm_gc_range_t *stk;
static size_t stk_n, stk_cap;
static size_t marked_bytes;
static bool no_interior; /* GM_GC_NOROOT_INTERIOR (tests) */

static GM_NOINLINE void grow(void) {
  size_t cap = stk_cap ? 2 * stk_cap : 65536;
  gm_gc_range_t *v = gm_sys_alloc(cap * sizeof *v);
  if (!v)
    gm_fatal("gm_gc: cannot grow the mark stack", NULL, "out of memory");
  if (stk_n)
    memcpy(v, stk, stk_n * sizeof *v);
  if (stk)
    gm_sys_free(stk, GM_ALIGN_UP(stk_cap * sizeof *v, gm_sys_page_size()));
  stk = v;
  stk_cap = cap;
}

GM_INLINE void push(uintptr_t lo, size_t n) {
  if (GM_UNLIKELY(stk_n == stk_cap))
    grow();
  stk[stk_n++] = (gm_gc_range_t){lo, lo + n};
}

void gm_gc_mark_begin(void) {
  stk_n = 0;
  marked_bytes = 0;
  no_interior = gm_options.gc_test_noroots & GM_GC_NOROOT_INTERIOR;
}

size_t gm_gc_marked_bytes(void) { return marked_bytes; }

/* findObject + greyobject for candidate v (inside the GC bounds): the
 * window's one load (else the arena map), the mark bit first (a marked
 * slot is live: most candidates in a linked structure are seen twice),
 * then Go's isFree. */
GM_INLINE void mark_candidate(uintptr_t v) {
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
    uint64_t *m = &s->gcmark_bits[idx / 64], bit = 1ULL << (idx % 64);
    if (*m & bit)
      return;
    if (!gm_gc_slot_live(s, idx) || (GM_UNLIKELY(no_interior) && idx * s->elemsize != off))
      return;
    *m |= bit;
    marked_bytes += s->elemsize;
    if (gm_gc_kind(s) != GM_GC_NOSCAN)
      push(s->base + idx * s->elemsize, s->elemsize);
  } else if (st == GM_SPAN_GC_LARGE) {
    if (v - s->base >= s->elemsize || (s->gcmark_bits[0] & 1) || (no_interior && v != s->base))
      return;
    s->gcmark_bits[0] = 1;
    marked_bytes += s->elemsize;
    if (gm_gc_kind(s) != GM_GC_NOSCAN)
      push(s->base, s->elemsize);
  }
}

void gm_gc_mark_object(uintptr_t p) { mark_candidate(p); }

/* Other threads' stacks and any data segment: reads the sanitizers would
 * flag (redzones, racy words of stopped threads) are what a conservative
 * scan does. */
#if defined(__clang__) || __GNUC__ >= 8
#define NOSAN __attribute__((no_sanitize("address", "thread")))
#else
#define NOSAN
#endif
NOSAN static void scan_range(uintptr_t lo, uintptr_t hi) {
  uintptr_t glo = gm_gc.lo, gext = gm_gc.hi - gm_gc.lo;
  lo = GM_ALIGN_UP(lo, sizeof(uintptr_t));
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
    uintptr_t v = *(const volatile uintptr_t *)p;
    if (v - glo < gext)
      mark_candidate(v);
  }
}

NOSAN void gm_gc_scan_range(uintptr_t lo, uintptr_t hi) { scan_range(lo, hi); }

NOSAN void gm_gc_drain(void) {
  while (stk_n) {
    gm_gc_range_t r = stk[--stk_n];
    scan_range(r.lo, r.hi);
  }
}
