/* sizeclass.h: size -> size class -> span class, inline for the malloc
 * fast path. The tables are Go's, generated into sizeclasses.h by
 * tools/mksizeclasses.c.
 *
 * Where we differ from Go: malloc must return 16-byte aligned memory for
 * every request of 16 bytes or more (glibc's MALLOC_ALIGNMENT on x86-64),
 * and Go's 24-byte class is only 8-byte aligned. So the table that malloc
 * reads uses the "align16" variant (17..24 -> 32 B class) unless
 * GOMALLOC_ALIGN8=1 asks for Go's exact one. Sizes above 1024 map as in
 * Go's 128-step table: every class from 32 B up is 16-byte aligned.
 *
 * Also unlike Go, malloc reads one table, built at start from Go's two:
 * gm_size_spc8, indexed by ceil(size / 8) over every small size (4 KiB),
 * holding the span class itself. Go keeps two small tables to save
 * memory; one saves the fast path a compare, a branch and a shift, and
 * only the lines of the sizes a program uses are ever read. */
#ifndef GM_SIZECLASS_H
#define GM_SIZECLASS_H

#include "internal.h"
#include "sizeclasses.h"

/* spanClass = sizeclass << 1 | noscan (Go's makeSpanClass). Plain malloc
 * allocates "scan" objects (noscan = 0): a future conservative GC must scan
 * memory whose contents it does not know. */
typedef uint8_t gm_spanclass_t;
GM_INLINE gm_spanclass_t gm_make_spanclass(unsigned sizeclass, bool noscan) {
  return (gm_spanclass_t)((sizeclass << 1) | (noscan ? 1u : 0u));
}
GM_INLINE unsigned gm_spanclass_sizeclass(gm_spanclass_t sc) { return sc >> 1; }
GM_INLINE bool gm_spanclass_noscan(gm_spanclass_t sc) { return sc & 1; }

#define GM_SIZE_SPC8_LEN (GM_MAX_SMALL_SIZE / GM_SMALL_SIZE_DIV + 1) /* 4097 */
extern uint8_t gm_size_spc8[GM_SIZE_SPC8_LEN];

/* Span class (scan) for a request of size <= GM_MAX_SMALL_SIZE (0 maps to
 * class 1). All zero until gm_sizeclass_init: span class 0 is never
 * cached, so a malloc before that takes the slow path, which sets up. */
GM_INLINE unsigned gm_size_to_spanclass(size_t size) {
  return gm_size_spc8[(size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV];
}

/* Size class for a request of size <= GM_MAX_SMALL_SIZE. */
GM_INLINE unsigned gm_size_to_class(size_t size) {
  return gm_spanclass_sizeclass((gm_spanclass_t)gm_size_to_spanclass(size));
}

/* Select the lookup table from the options (init.c, before any allocation):
 * Go's classes, or those of the table in file path if it is not "" and
 * passes gm_sizeclass_load's checks. */
void gm_sizeclass_init(bool align8, const char *path);

/* Classes in use, class 0 included: GM_NUM_CLASSES unless a loaded table
 * has fewer (the arrays are zero past it). */
extern unsigned gm_sizeclass_nclasses;

/* ---- GOMALLOC_SIZECLASSES (sizeclass_load.c) ---- */

/* A table as read from a file: classes 1..nclasses-1 (0 is large objects). */
typedef struct gm_sizeclass_table {
  unsigned nclasses; /* class 0 included */
  uint16_t size[GM_NUM_CLASSES];
  uint8_t npages[GM_NUM_CLASSES];
} gm_sizeclass_table_t;

/* Why a class of size bytes in span-byte spans, after a class of prev_size,
 * is unsafe for the allocator, or NULL if it is fine. */
const char *gm_sizeclass_check_class(uint32_t size, uint32_t span, uint32_t prev_size);

/* Parse and check the TSV of `gomalloc sizeclasses --tsv` (blank lines and
 * # comments allowed). NULL on success; else the reason, *line its line. */
const char *gm_sizeclass_parse(const char *text, size_t len, gm_sizeclass_table_t *t,
                               unsigned *line);

/* Make t the class arrays (before any allocation; gm_sizeclass_init then
 * builds the lookup). */
void gm_sizeclass_install(const gm_sizeclass_table_t *t);

/* Read, check and install the table in path; false (Go's table kept) with
 * one line on stderr naming the file, line and reason if it is refused. */
bool gm_sizeclass_load(const char *path);

/* Smallest class >= size whose objects are all aligned to align
 * (align <= GM_PAGE_SIZE), or 0 if none: aligned_alloc's small path. */
unsigned gm_size_to_class_aligned(size_t size, size_t align);

/* Number of 64-bit words in a span's bitmaps for a size class (1 for large). */
GM_INLINE unsigned gm_class_bitmap_words(unsigned sizeclass) {
  unsigned n = sizeclass ? gm_class_to_nelems[sizeclass] : 1;
  return (n + 63) / 64;
}

#endif /* GM_SIZECLASS_H */
