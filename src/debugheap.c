/* debugheap.c: canaries, free fill and guard pages of debug builds (see
 * debugheap.h for the layout). Everything here sits on top of the release
 * allocator: it asks for a slightly larger block, decorates it, and hands
 * the raw block back on free. */
#include "debugheap.h"

#if GM_DEBUG

#include "error.h"
#include "mallocgc.h"
#include "mheap.h"
#include "os.h"
#include "vg.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* Large blocks keep this many canary bytes past their end at most (when a
 * big alignment leaves more room before the guard page). */
#define LARGE_TAIL_MAX 4096

static uint32_t trailer_check(size_t n, const void *p) {
  uint64_t x = (uint64_t)n * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)p * 0xc2b2ae3d27d4eb4full;
  return (uint32_t)(x >> 32) ^ 0x5a17c0deu;
}

/* First offset in [0, len) where p differs from byte c, or len. */
static size_t first_not(const unsigned char *p, size_t len, unsigned char c) {
  size_t i = 0;
  uint64_t w = 0x0101010101010101ull * c;
  for (; i < len && ((uintptr_t)(p + i) & 7); i++)
    if (p[i] != c)
      return i;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, p + i, 8);
    if (v != w)
      break;
  }
  for (; i < len; i++)
    if (p[i] != c)
      return i;
  return len;
}

/* "<what><n>-byte <where><k>" into buf, for gm_fatal's detail. */
static const char *detail(char *buf, const char *what, size_t n, const char *where, size_t k) {
  char num[32];
  size_t len = 0;
#define PUT(s, l)                                                                                  \
  do {                                                                                             \
    memcpy(buf + len, (s), (l));                                                                   \
    len += (l);                                                                                    \
  } while (0)
  PUT(what, strlen(what));
  size_t m = gm_fmt_dec(num, n);
  PUT(num, m);
  PUT("-byte ", 6);
  PUT(where, strlen(where));
  m = gm_fmt_dec(num, k);
  PUT(num, m);
#undef PUT
  buf[len] = 0;
  return buf;
}

GM_NOINLINE GM_COLD static void overflow(const void *p, size_t n, size_t at) {
  char buf[160];
  gm_fatal("buffer overflow", p, detail(buf, "canary after a ", n, "block overwritten at offset ", at));
}

GM_NOINLINE GM_COLD static void underflow(const void *p, size_t n, size_t before) {
  char buf[160];
  gm_fatal("buffer overflow", p,
           detail(buf, "canary before a ", n, "block overwritten this many bytes before it: ", before));
}

/* ---- small blocks ------------------------------------------------------ */

/* Check that a slot about to be handed out still looks freed: each OS page
 * of it all GM_DBG_FREE_BYTE (freed) or all zero (never used, or released
 * to the OS by the scavenger). */
static void check_free_fill(unsigned char *slot, size_t size) {
  size_t ps = gm_sys_page_size();
  size_t off = 0;
  while (off < size) {
    size_t end = GM_ALIGN_UP((uintptr_t)slot + off + 1, ps) - (uintptr_t)slot;
    if (end > size)
      end = size;
    unsigned char c = slot[off] == 0 ? 0 : GM_DBG_FREE_BYTE;
    size_t bad = off + first_not(slot + off, end - off, c);
    if (bad < end) {
      char buf[160];
      gm_fatal("write after free", slot,
               detail(buf, "a freed ", size, "slot was modified at offset ", bad));
    }
    off = end;
  }
}

/* Canaries from n to the trailer, then the trailer. */
static void small_block_trailer(unsigned char *p, size_t slot, size_t n) {
  size_t tail = slot - GM_DBG_TRAILER;
  memset(p + n, GM_DBG_CANARY_BYTE, tail - n);
  uint32_t t[2] = {(uint32_t)n, trailer_check(n, p)};
  memcpy(p + tail, t, sizeof t);
}

static void *small_block(unsigned char *p, size_t slot, size_t n) {
  check_free_fill(p, slot);
  small_block_trailer(p, slot, n);
  return p;
}

/* The requested size of small block p in a slot of slot bytes, or abort
 * if an overrun reached its trailer. */
static size_t small_size(const unsigned char *p, size_t slot) {
  uint32_t t[2];
  size_t tail = slot - GM_DBG_TRAILER;
  memcpy(t, p + tail, sizeof t);
  if (t[0] > tail || t[1] != trailer_check(t[0], p)) {
    char buf[160];
    gm_fatal("buffer overflow", p, detail(buf, "size word of a ", slot, "slot overwritten at offset ", tail));
  }
  return t[0];
}

/* ---- large blocks ---------------------------------------------------- */

static bool guards_possible(void) { return gm_sys_page_size() <= GM_PAGE_SIZE; }

/* Bytes from a large block's start to its guard page: n rounded up to
 * the alignment a, so that the block ends at the guard (when a is at most
 * a page; bigger alignments start the block at the span's base). */
static size_t large_body(size_t n, size_t a) {
  size_t body = n ? n : 1;
  return a <= GM_PAGE_SIZE ? GM_ALIGN_UP(body, a) : body;
}

/* Lay out large span s for a block of n bytes: the block ends at the
 * guard page (its last page, if guard) unless alignment a is bigger than a
 * page; canaries before and after it. Returns the block. */
static unsigned char *large_layout(gm_mspan_t *s, size_t n, size_t a, bool guard) {
  unsigned char *base = (unsigned char *)s->base;
  size_t body = large_body(n, a);
  size_t room = (s->npages - (guard ? 1 : 0)) << GM_PAGE_SHIFT; /* bytes before the guard */
  size_t off = a <= GM_PAGE_SIZE ? room - body : 0;
  unsigned char *p = base + off;
  memset(base, GM_DBG_CANARY_BYTE, off);
  size_t tail = room - off - n;
  memset(p + n, GM_DBG_CANARY_BYTE, tail < LARGE_TAIL_MAX ? tail : LARGE_TAIL_MAX);
  s->dbg_size = n;
  /* Without a free mapping left mprotect fails: keep the layout, skip the
   * protection. */
  s->dbg_guard = !guard ? 0 : mprotect(base + room, GM_PAGE_SIZE, PROT_NONE) == 0 ? 2 : 1;
  /* Last: a free racing this malloc with a stale pointer to these pages
   * matches the block only once it is whole (gm_dbg_large_ptr). */
  gm_store_release(&s->dbg_off, (uint32_t)off);
  return p;
}

static size_t large_pages(size_t n, size_t a, bool guard) {
  return ((large_body(n, a) + GM_PAGE_MASK) >> GM_PAGE_SHIFT) + (guard ? 1 : 0);
}

static void *large_block(size_t n, size_t align) {
  size_t a = align < 16 ? 16 : align;
  bool guard = guards_possible();
  size_t align_pages = a > GM_PAGE_SIZE ? a >> GM_PAGE_SHIFT : 1;
  unsigned char *base = gm_malloc_large(large_pages(n, a, guard) << GM_PAGE_SHIFT, align_pages);
  if (!base)
    return NULL;
  return large_layout(gm_span_of((uintptr_t)base), n, a, guard);
}

/* Check a large block's canaries. */
static void large_check(gm_mspan_t *s, unsigned char *p) {
  unsigned char *base = (unsigned char *)s->base;
  size_t n = s->dbg_size, off = s->dbg_off;
  size_t room = (s->npages - (s->dbg_guard ? 1 : 0)) << GM_PAGE_SHIFT;
  size_t bad = first_not(base, off, GM_DBG_CANARY_BYTE);
  if (bad < off)
    underflow(p, n, off - bad);
  size_t tail = room - off - n;
  if (tail > LARGE_TAIL_MAX)
    tail = LARGE_TAIL_MAX;
  bad = first_not(p + n, tail, GM_DBG_CANARY_BYTE);
  if (bad < tail)
    overflow(p, n, n + bad);
}

static void guard_on(gm_mspan_t *s) {
  unsigned char *g = (unsigned char *)s->base + ((s->npages - 1) << GM_PAGE_SHIFT);
  if (s->dbg_guard == 1 && mprotect(g, GM_PAGE_SIZE, PROT_NONE) == 0)
    s->dbg_guard = 2;
}

static void guard_off(gm_mspan_t *s) {
  unsigned char *g = (unsigned char *)s->base + ((s->npages - 1) << GM_PAGE_SHIFT);
  if (s->dbg_guard == 2 && mprotect(g, GM_PAGE_SIZE, PROT_READ | PROT_WRITE) != 0)
    gm_fatal("cannot unprotect guard page", g, "mprotect failed");
  if (s->dbg_guard)
    s->dbg_guard = 1;
}

static void large_release(gm_mspan_t *s, unsigned char *p) {
  large_check(s, p);
  guard_off(s);
  s->dbg_guard = 0;
}

/* ---- the hooks --------------------------------------------------------- */

static void *dbg_malloc(size_t n, size_t align) {
  if (GM_UNLIKELY(gm_load_acquire(&gm_init_state) != GM_INIT_DONE))
    gm_init();
  if (n > GM_MAX_ALLOC) {
    errno = ENOMEM;
    return NULL;
  }
  /* At least 16-byte alignment for every size (release builds give 8 to
   * 1-8 byte requests only, which the trailer pushes past 8 anyway). */
  size_t raw = n + GM_DBG_TRAILER;
  if (raw <= GM_MAX_SMALL_SIZE && align <= GM_PAGE_SIZE) {
    unsigned cls = gm_size_to_class_aligned(raw, align < 16 ? 16 : align);
    if (cls) {
      size_t slot = gm_class_to_size[cls];
      /* Ask for raw bytes when that picks the same class, so the stats'
       * request-size samples stay near the truth. */
      unsigned char *p = gm_mcache_alloc_small(gm_size_to_class(raw) == cls ? raw : slot);
      return p ? small_block(p, slot, n) : NULL;
    }
  }
  return large_block(n, align);
}

/* Check the canaries of small block p; returns its requested size. */
static size_t small_check(gm_mspan_t *s, unsigned char *p) {
  size_t slot = s->elemsize;
  size_t n = small_size(p, slot);
  size_t bad = first_not(p + n, slot - GM_DBG_TRAILER - n, GM_DBG_CANARY_BYTE);
  if (bad < slot - GM_DBG_TRAILER - n)
    overflow(p, n, n + bad);
  return n;
}

/* Claim large span s, found live with block p, before looking at the
 * block (span.h): the loser of two racing frees (or a free and a realloc)
 * would otherwise check canaries, unprotect a guard page, or copy, in pages
 * that may be another block's by now. Between the look and the claim the
 * struct may have gone to a new block, so the claim is checked against p
 * (the process aborts either way, the claim is not undone). */
static void large_claim(gm_mspan_t *s, void *p, bool is_free) {
  uint8_t seen;
  if (!gm_span_claim_large(s, &seen) || gm_dbg_large_ptr(s) != (uintptr_t)p) {
    if (is_free)
      gm_fatal_double_free(p, "block already free");
    gm_fatal("invalid realloc", p, "block already free");
  }
}

static void *dbg_free_prepare(void *p) {
  gm_mspan_t *s = gm_live_span(p, "free");
  if (gm_spanclass_sizeclass(s->spanclass) == 0) {
    large_claim(s, p, true);
    large_release(s, p);
    gm_mheap_free_span(s);
    return NULL;
  }
  small_check(s, p);
  memset(p, GM_DBG_FREE_BYTE, s->elemsize);
  return p;
}

static void *dbg_resize_in_place(gm_mspan_t *s, void *p, size_t size) {
  unsigned char *b = p;
  if (gm_spanclass_sizeclass(s->spanclass) == 0) { /* claimed (gm_dbg_claim) */
    size_t n = s->dbg_size;
    if (size == n)
      return p;
    if (size < n || size > GM_MAX_ALLOC)
      return NULL; /* shrinking moves: it needs no more memory */
    /* Grow in place, as release builds do (a block growing by steps under
     * an address-space limit must not need two copies): extend the pages,
     * then slide the block up so that it ends at the new guard page. */
    large_check(s, b);
    bool guard = s->dbg_guard != 0;
    size_t npages = large_pages(size, 16, guard);
    if (npages > s->npages) {
      guard_off(s);
      if (!gm_mheap_grow_span(s, p, npages)) {
        guard_on(s); /* the layout is unchanged */
        return NULL;
      }
    } else {
      guard_off(s);
    }
    unsigned char *q = (unsigned char *)s->base + ((s->npages - (guard ? 1 : 0)) << GM_PAGE_SHIFT) -
                       large_body(size, 16);
    memmove(q, b, n);
    return large_layout(s, size, 16, guard);
  }
  size_t slot = s->elemsize, n = small_check(s, b);
  if (size > slot - GM_DBG_TRAILER ||
      gm_size_to_class_aligned(size + GM_DBG_TRAILER, 16) != gm_spanclass_sizeclass(s->spanclass))
    return NULL;
  /* Same class: redraw the canaries for the new size. */
  if (size > n)
    memset(b + n, GM_DBG_CANARY_BYTE, size - n);
  small_block_trailer(b, slot, size);
  return p;
}

static size_t dbg_size(gm_mspan_t *s, const void *p) {
  if (gm_spanclass_sizeclass(s->spanclass) == 0)
    return s->dbg_size;
  return small_size(p, s->elemsize);
}

uintptr_t gm_dbg_large_ptr(const gm_mspan_t *s) {
  uint32_t off = gm_load_acquire(&s->dbg_off);
  return off == GM_DBG_OFF_UNSET ? 0 : s->base + off;
}

bool gm_dbg_claim(gm_mspan_t *s, void *p) {
  if (gm_spanclass_sizeclass(s->spanclass) != 0)
    return false;
  large_claim(s, p, false);
  return true;
}

void gm_dbg_unclaim(gm_mspan_t *s) { gm_store_release(&s->state, (uint8_t)GM_SPAN_LARGE); }

/* The hooks proper. In a valgrind build (vg.h) the canaries, trailers and
 * free fills live in memory memcheck holds no-access (outside the user's
 * block): memcheck must not report our own checks of them. */
void *gm_dbg_malloc(size_t n, size_t align) {
  GM_VG_QUIET_BEGIN();
  void *p = dbg_malloc(n, align);
  GM_VG_QUIET_END();
  return p;
}

void *gm_dbg_free_prepare(void *p) {
  GM_VG_QUIET_BEGIN();
  p = dbg_free_prepare(p);
  GM_VG_QUIET_END();
  return p;
}

void *gm_dbg_resize_in_place(gm_mspan_t *s, void *p, size_t size) {
  GM_VG_QUIET_BEGIN();
  p = dbg_resize_in_place(s, p, size);
  GM_VG_QUIET_END();
  return p;
}

void gm_dbg_free_claimed(gm_mspan_t *s, void *p) {
  GM_VG_QUIET_BEGIN();
  large_release(s, p);
  GM_VG_QUIET_END();
  gm_mheap_free_span(s);
}

size_t gm_dbg_size(gm_mspan_t *s, const void *p) {
  GM_VG_QUIET_BEGIN();
  size_t n = dbg_size(s, p);
  GM_VG_QUIET_END();
  return n;
}


#endif /* GM_DEBUG */
