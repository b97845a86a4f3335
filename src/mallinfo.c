/* mallinfo.c: glibc's introspection and tuning API on gomalloc's
 * statistics: mallinfo and mallinfo2, malloc_stats, malloc_info and
 * mallopt (override.c exports them under the libc names). A program that
 * asks glibc's questions gets figures about the heap its blocks come from,
 * not about glibc's arenas, which under gomalloc stay empty.
 *
 * The figures. glibc's main arena is the heap for ordinary chunks and
 * mmapped chunks are counted apart; gomalloc's analogues are the small
 * objects (size-class spans plus the free pages of the page heap) and the
 * large objects (one span each). So, from gm_stats:
 *   hblks, hblkhd   large blocks and their bytes (their whole pages);
 *   arena           the rest of the mapped heap (mapped - hblkhd), so that
 *                   arena + hblkhd is the whole heap, as in glibc;
 *   uordblks        bytes of live small objects, at their class size;
 *   fordblks        arena - uordblks: free slots, span tails, free pages
 *                   (glibc's identity uordblks + fordblks = arena holds);
 *   ordblks         free slots in small spans (glibc: free chunks);
 *   keepcost        free heap pages still resident: what malloc_trim(0)
 *                   would give back (glibc: the releasable top chunk);
 *   smblks, fsmblks, usmblks  0 (no fastbins; glibc's usmblks is 0 too).
 * Each call costs one gm_stats walk over the span metadata, with the
 * central and heap locks held (glibc's walk its bins under the arena lock).
 *
 * mallinfo's fields are int. glibc 2.36 converts mallinfo2's size_t
 * fields with a plain cast, so a heap of 8 GiB + 8 KiB reads as 8 KiB; we
 * clamp at INT_MAX instead, so a figure that does not fit reads as "at
 * least 2 GiB" rather than as a small wrong number. */
#include "mallinfo.h"

#include "gomalloc.h"
#include "mheap.h"
#include "os.h"
#include "scavenger.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* gm_stats' struct is about 10 KiB, too big for some thread stacks: it
 * lives in mapped memory (as in gm_stats itself), and no lock is held
 * while it is printed, so the printing may call malloc. */
static struct gm_stats *stats_take(void) {
  struct gm_stats *st = gm_sys_alloc(sizeof *st);
  if (!st)
    return NULL;
  st->size = (uint32_t)sizeof *st;
  if (gm_stats(st) != 0) {
    gm_sys_free(st, GM_ALIGN_UP(sizeof *st, gm_sys_page_size()));
    return NULL;
  }
  return st;
}

static void stats_drop(struct gm_stats *st) {
  gm_sys_free(st, GM_ALIGN_UP(sizeof *st, gm_sys_page_size()));
}

static void figures(const struct gm_stats *st, struct mallinfo2 *mi) {
  memset(mi, 0, sizeof *mi);
  const struct gm_class_stats *large = &st->classes[0];
  for (unsigned c = 1; c < GM_STATS_NUM_CLASSES; c++)
    mi->ordblks += st->classes[c].free_objects;
  mi->hblks = large->objects;
  mi->hblkhd = large->in_use_bytes;
  mi->arena = st->mapped_bytes - mi->hblkhd;
  mi->uordblks = st->object_bytes - large->in_use_bytes;
  mi->fordblks = mi->arena - mi->uordblks;
  mi->keepcost = st->free_bytes - st->released_bytes;
}

void gm_mallinfo2_fill(struct mallinfo2 *mi) {
  struct gm_stats *st = stats_take();
  if (!st) {
    memset(mi, 0, sizeof *mi);
    return;
  }
  figures(st, mi);
  stats_drop(st);
}

int gm_mallinfo_clamp(size_t v) { return v > (size_t)INT_MAX ? INT_MAX : (int)v; }

void gm_mallinfo_fill(struct mallinfo *mi) {
  struct mallinfo2 m;
  gm_mallinfo2_fill(&m);
  mi->arena = gm_mallinfo_clamp(m.arena);
  mi->ordblks = gm_mallinfo_clamp(m.ordblks);
  mi->smblks = gm_mallinfo_clamp(m.smblks);
  mi->hblks = gm_mallinfo_clamp(m.hblks);
  mi->hblkhd = gm_mallinfo_clamp(m.hblkhd);
  mi->usmblks = gm_mallinfo_clamp(m.usmblks);
  mi->fsmblks = gm_mallinfo_clamp(m.fsmblks);
  mi->uordblks = gm_mallinfo_clamp(m.uordblks);
  mi->fordblks = gm_mallinfo_clamp(m.fordblks);
  mi->keepcost = gm_mallinfo_clamp(m.keepcost);
}

/* ---- malloc_stats ----------------------------------------------------------- */

/* glibc's layout exactly, one arena ("Arena 0"), gomalloc's figures.
 * glibc prints them through (unsigned int); we print them whole. "max mmap"
 * are the peaks of the large blocks (the heap keeps them). */
GM_API void gm_malloc_stats(void) {
  struct mallinfo2 mi;
  gm_mallinfo2_fill(&mi);
  gm_lock(&gm_heap.lock);
  size_t max_n = gm_heap.max_large_spans, max_bytes = gm_heap.max_large_pages << GM_PAGE_SHIFT;
  gm_unlock(&gm_heap.lock);
  FILE *f = stderr;
  fprintf(f, "Arena 0:\n");
  fprintf(f, "system bytes     = %10zu\n", mi.arena);
  fprintf(f, "in use bytes     = %10zu\n", mi.uordblks);
  fprintf(f, "Total (incl. mmap):\n");
  fprintf(f, "system bytes     = %10zu\n", mi.arena + mi.hblkhd);
  fprintf(f, "in use bytes     = %10zu\n", mi.uordblks + mi.hblkhd);
  fprintf(f, "max mmap regions = %10zu\n", max_n);
  fprintf(f, "max mmap bytes   = %10zu\n", max_bytes);
}

/* ---- malloc_info ------------------------------------------------------------ */

/* glibc's XML, element for element. Its <size> rows list the free chunks
 * of each bin; ours list each size class's free slots (from = one byte
 * above the class below, to = the class size). "fast" is 0 (no fastbins);
 * "rest" is every free byte of the heap (fordblks), its count the free
 * slots. "system" is the heap less the large blocks (arena), as glibc's
 * leaves out its mmapped chunks; the heap never unmaps, so max = current.
 * "aspace" is the whole heap's address space: total reserved for arenas,
 * mprotect the part mapped (large blocks included). */
GM_API int gm_malloc_info(int options, void *fp) {
  FILE *f = fp;
  if (options != 0 || !f)
    return EINVAL;
  struct gm_stats *st = stats_take();
  if (!st)
    return ENOMEM;
  struct mallinfo2 mi;
  figures(st, &mi);
  fprintf(f, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
  for (unsigned c = 1; c < GM_STATS_NUM_CLASSES; c++) {
    const struct gm_class_stats *cs = &st->classes[c];
    if (cs->free_objects)
      fprintf(f, "  <size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>\n",
              (unsigned long long)st->classes[c - 1].size + 1, (unsigned long long)cs->size,
              (unsigned long long)(cs->free_objects * cs->size),
              (unsigned long long)cs->free_objects);
  }
  size_t mapped = mi.arena + mi.hblkhd;
  fprintf(f,
          "</sizes>\n<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%llu\"/>\n"
          "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
          "</heap>\n",
          mi.ordblks, mi.fordblks, mi.arena, mi.arena, (unsigned long long)st->reserved_bytes,
          mapped);
  fprintf(f,
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"max\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%llu\"/>\n"
          "<aspace type=\"mprotect\" size=\"%zu\"/>\n"
          "</malloc>\n",
          mi.ordblks, mi.fordblks, mi.hblks, mi.hblkhd, mi.arena, mi.arena,
          (unsigned long long)st->reserved_bytes, mapped);
  stats_drop(st);
  return 0;
}

/* ---- mallopt ---------------------------------------------------------------- */

/* glibc's return values: 1, or 0 for an M_MXFAST above its limit (glibc
 * 2.36 rejects nothing else, unknown parameters included). Values are
 * taken as glibc takes them, an int widened to size_t, so a negative
 * threshold is huge: never trim. */
#define GLIBC_MAX_FAST_SIZE (80 * sizeof(size_t) / 4)

GM_API int gm_mallopt(int param, int value) {
  size_t v = (size_t)(long)value;
  switch (param) {
  case M_MXFAST: /* no fastbins: checked, then ignored */
    return v <= GLIBC_MAX_FAST_SIZE;
  case M_TRIM_THRESHOLD: /* the free memory kept above the recent peak in use */
    gm_store_relaxed(&gm_scav_trim_threshold, v == GM_SCAV_UNSET ? v - 1 : v);
    return 1;
  case M_TOP_PAD: /* the least of it kept */
    gm_store_relaxed(&gm_scav_top_pad, v);
    return 1;
  default:
    /* M_MMAP_THRESHOLD, M_MMAP_MAX: there is no separate mmap path (a
     * large block is a span of the page heap, whose pages the scavenger
     * returns once freed); M_ARENA_MAX, M_ARENA_TEST: one heap with
     * per-thread caches; M_CHECK_ACTION, M_PERTURB: the debug build checks
     * and fills (GM_DEBUG); unknown parameters, as glibc. */
    return 1;
  }
}
