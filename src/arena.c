/* arena.c: reserving 64 MiB arenas and the address -> arena map.
 * See arena.h. */
#include "arena.h"

#include "error.h"
#include "options.h" /* GOMALLOC_HEAP_BASE */
#include "os.h"
#include "vg.h"

#include <errno.h>

gm_heaparena_t *gm_arena_flat[GM_ARENA_FLAT_LEN];
/* Released a page at a time (gm_arena_release_locked), rounded inwards:
 * a page it shares with .data (file-backed, which DONTNEED would reload)
 * or a neighbour is never released. */
gm_mspan_t *gm_window_spans[GM_WINDOW_PAGES];
uintptr_t gm_window_base;
gm_heaparena_t **gm_arena_l1[1u << GM_ARENA_L1_BITS];

/* Out of line: only arenas the kernel placed above 4 TiB take this path,
 * so the inline lookup in free stays small. */
gm_heaparena_t *gm_arena_of_high(uintptr_t p) { return gm_arena_of_two_level(p); }

/* Where the next reservation should go. Go starts its heap at
 * 0x00c000000000, a recognisable address well away from the mmap area
 * (which grows down from the top) and the program break, and so did we:
 * then every run put its first block at the same address, and a double
 * free racing an allocation (one block handed out twice) was reliably
 * exploitable. We leave Go here: the base is random, arena-aligned, in
 * [1 TiB, 15 TiB), below the mmap area, PIE images and the break on
 * x86-64 and aarch64 (48-bit), and inside the flat arena table and its
 * window. That is 14 TiB / 64 MiB = 229376 bases, 17.8 bits; glibc's mmap
 * base has 28 at page granularity, which arenas cannot use.
 * GOMALLOC_HEAP_BASE=fixed (Go's address) or an address pins it for
 * reproducible debugging. From there the heap grows upwards so arenas stay
 * contiguous and free page runs can coalesce across arena boundaries. If
 * the kernel puts a reservation elsewhere (address taken, or sanitizer
 * shadow memory), we follow it. */
#define RANDOM_BASE_LO ((uintptr_t)1 << 40)
#define RANDOM_BASE_SPAN ((uintptr_t)14 << 40)
static uintptr_t arena_hint;
static size_t arena_count;

/* All arenas, for walks (stats, heap map); grown on demand. Heap lock. */
static gm_heaparena_t **all_arenas;
static size_t all_arenas_cap;

static bool register_arena(uintptr_t base) {
  if (arena_count == all_arenas_cap) {
    size_t ncap = all_arenas_cap ? all_arenas_cap * 2 : 512;
    gm_heaparena_t **n = gm_sys_alloc(ncap * sizeof *n);
    if (!n)
      return false;
    for (size_t i = 0; i < arena_count; i++)
      n[i] = all_arenas[i];
    if (all_arenas)
      gm_sys_free(all_arenas, GM_ALIGN_UP(all_arenas_cap * sizeof *n, gm_sys_page_size()));
    all_arenas = n;
    all_arenas_cap = ncap;
  }
  gm_heaparena_t **slot;
  if ((base >> GM_ARENA_FLAT_BITS) == 0) {
    slot = &gm_arena_flat[base >> GM_ARENA_SHIFT];
  } else {
    size_t i1 = base >> (GM_ARENA_SHIFT + GM_ARENA_L2_BITS);
    gm_heaparena_t **l2 = gm_arena_l1[i1];
    if (!l2) {
      l2 = gm_sys_alloc(sizeof(gm_heaparena_t *) << GM_ARENA_L2_BITS);
      if (!l2)
        return false;
      gm_store_release(&gm_arena_l1[i1], l2);
    }
    slot = &l2[(base >> GM_ARENA_SHIFT) & ((1u << GM_ARENA_L2_BITS) - 1)];
  }
  size_t wpage = gm_window_page(base); /* arenas lie wholly in or out (both aligned) */
  bool in_window = wpage < GM_WINDOW_PAGES;
  gm_heaparena_t *ha =
      gm_sys_alloc(sizeof *ha + (in_window ? 0 : GM_PAGES_PER_ARENA * sizeof(gm_mspan_t *)));
  if (!ha)
    return false;
  GM_VG_HIDE(ha, sizeof *ha); /* ha->base is the first block's address (vg.h) */
  ha->base = base;
  ha->spans = in_window ? &gm_window_spans[wpage] : ha->own_spans;
  gm_store_release(slot, ha);
  /* Keep all_arenas sorted by address (insertion; arenas are few). */
  size_t i = arena_count++;
  while (i > 0 && all_arenas[i - 1]->base > base) {
    all_arenas[i] = all_arenas[i - 1];
    i--;
  }
  all_arenas[i] = ha;
  return true;
}

void gm_arena_init(void) {
  uintptr_t base = gm_options.heap_base;
  if (!base)
    base = RANDOM_BASE_LO + (gm_sys_random() % (RANDOM_BASE_SPAN >> GM_ARENA_SHIFT) << GM_ARENA_SHIFT);
  base &= ~(uintptr_t)(GM_ARENA_BYTES - 1);
  gm_window_base = base;
  arena_hint = base;
  /* Both hold the heap's first address, which is the first block's: under
   * memcheck (vg.h) its leak scan would take them for a pointer to it. */
  GM_VG_HIDE(&gm_window_base, sizeof gm_window_base);
  GM_VG_HIDE(&arena_hint, sizeof arena_hint);
}

uintptr_t gm_arena_reserve_locked(size_t n, size_t align) {
  if (!arena_hint)
    gm_arena_init(); /* a test that never ran gm_init */
  /* A region of huge alignment goes past the window, so that the heap can
   * keep growing contiguously through it. */
  uintptr_t from = arena_hint, wend = gm_window_base + ((uintptr_t)1 << GM_WINDOW_BITS);
  if (align > GM_ARENA_BYTES && from < wend)
    from = wend;
  uintptr_t hint = GM_ALIGN_UP(from, align);
  void *p = gm_sys_reserve_aligned(hint < from ? NULL : (void *)hint, n, align);
  if (!p)
    return 0;
  uintptr_t base = (uintptr_t)p;
  if ((base + n) >> GM_ADDR_BITS) {
    /* Beyond the 48 bits the arena map covers (5-level paging). */
    gm_sys_free(p, n);
    errno = ENOMEM;
    return 0;
  }
  /* A region of huge alignment holds one block; the heap keeps growing
   * where it was. */
  if (align <= GM_ARENA_BYTES)
    arena_hint = base + n;
  return base;
}

bool gm_arena_map_locked(uintptr_t base, size_t n) {
  for (uintptr_t a = base & ~(uintptr_t)(GM_ARENA_BYTES - 1); a < base + n; a += GM_ARENA_BYTES)
    if (!gm_arena_of(a) && !register_arena(a)) {
      /* Arenas registered so far stay (their map entries are harmless). */
      errno = ENOMEM;
      return false;
    }
  return true;
}

void gm_arena_release_locked(uintptr_t base, size_t n) {
  uintptr_t p = base, end = base + n;
  while (p < end) {
    gm_heaparena_t *ha = gm_arena_of(p);
    size_t i = (p >> GM_PAGE_SHIFT) & (GM_PAGES_PER_ARENA - 1);
    size_t k = GM_PAGES_PER_ARENA - i, left = (end - p) >> GM_PAGE_SHIFT;
    if (k > left)
      k = left;
    /* Rounded inwards to OS pages: a table page shared with a page not
     * released here stays. */
    if (ha)
      gm_sys_unused(&ha->spans[i], k * sizeof(gm_mspan_t *));
    p += k << GM_PAGE_SHIFT;
  }
}

uintptr_t gm_arena_next_aligned(uintptr_t from, size_t align) {
  for (size_t a = 0; a < arena_count; a++) {
    uintptr_t b = all_arenas[a]->base;
    if (b >= from && (b & (align - 1)) == 0)
      return b;
  }
  return 0;
}

void gm_arena_mark_in_use_locked(uintptr_t base, bool in_use) {
  gm_heaparena_t *ha = gm_arena_of(base);
  size_t first = (base >> GM_PAGE_SHIFT) & (GM_PAGES_PER_ARENA - 1);
  if (in_use)
    ha->page_in_use[first / 64] |= 1ULL << (first % 64);
  else
    ha->page_in_use[first / 64] &= ~(1ULL << (first % 64));
}

void gm_arena_set_spans_locked(uintptr_t base, size_t npages, gm_mspan_t *s) {
  uintptr_t p = base, end = base + (npages << GM_PAGE_SHIFT);
  gm_heaparena_t *ha;
  while (p < end) {
    ha = gm_arena_of(p);
    size_t i = (p >> GM_PAGE_SHIFT) & (GM_PAGES_PER_ARENA - 1);
    size_t n = GM_PAGES_PER_ARENA - i;
    size_t left = (end - p) >> GM_PAGE_SHIFT;
    if (n > left)
      n = left;
    for (size_t k = 0; k < n; k++)
      gm_store_release(&ha->spans[i + k], s);
    p += n << GM_PAGE_SHIFT;
  }
}

size_t gm_arena_count(void) { return gm_load_relaxed(&arena_count); }

size_t gm_arena_for_each_span(void (*fn)(gm_mspan_t *s, void *arg), void *arg) {
  size_t bad = 0;
  for (size_t a = 0; a < arena_count; a++) {
    gm_heaparena_t *ha = all_arenas[a];
    for (size_t w = 0; w < GM_PAGES_PER_ARENA / 64; w++) {
      uint64_t bits = ha->page_in_use[w];
      while (bits) {
        size_t i = w * 64 + gm_ctz64(bits);
        bits &= bits - 1;
        gm_mspan_t *s = ha->spans[i];
        if (s && s->base == ha->base + (i << GM_PAGE_SHIFT))
          fn(s, arg);
        else
          bad++;
      }
    }
  }
  return bad;
}
