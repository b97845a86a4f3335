/* heapmap_render.h: the heap map page, drawn from a heap dump (the format
 * is in src/heapdump.h; the library writes it with gm_write_heap_dump, at
 * exit for GOMALLOC_HEAPMAP). A static library used by the `gomalloc` tool
 * (`gomalloc heapmap`) and the heap map tests; it runs on the system's
 * malloc and stdio, never inside the allocator.
 *
 * The page is self-contained: inline SVG drawn here, so the map shows
 * without script, and a small script for the tooltips and the #selftest
 * check. Its data for the script:
 *
 *   META = {mode: "spans" | "chunks", spans, chunks, pagesPerRow, ...}
 *   S[i] = [base hex, npages, spanclass, state, nelems, allocCount,
 *           freeindex, inUse, elemsize, usedHex, pendingHex, releasedBytes]
 *          for span i (mode "spans"); hex bitmaps are 4 slots per digit,
 *          lowest slot in the lowest bit of the first digit
 *   F[j] = [base hex, npages, released 0/1] for free page run j
 *   K[c] = [base hex, spans, largeSpans, smallPages, largePages, freePages,
 *           releasedPages, inUse, slots, dominantClass] for chunk c
 *
 * In the SVG: span i is drawn as rect.s[data-i=i] (plus rect.s.c
 * continuation pieces where it wraps to the next row), free runs as
 * rect.f / rect.r[data-f], chunk summaries as rect.k[data-k]. Mode
 * "chunks" is used when the dump has no bitmaps (past 20000 spans or
 * 4 GiB, see src/heapmap.h). */
#ifndef GM_HEAPMAP_RENDER_H
#define GM_HEAPMAP_RENDER_H

#include "config.h"
#include "gomalloc-stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HM_CHUNK_WORDS (GM_CHUNK_PAGES / 64)

/* A span as the dump gives it; its bitmaps are words[bits..] (used, then
 * pending, nwords each), bits = UINT32_MAX when it has none. */
typedef struct hm_span {
  uintptr_t base;
  size_t npages;
  size_t elemsize;
  uint32_t bits;
  uint32_t released; /* bytes of free slots released to the OS */
  uint16_t nelems, alloc_count, freeindex, live;
  uint8_t spanclass, state, nwords;
} hm_span_t;

typedef struct hm_chunk {
  uintptr_t base;
  uint64_t alloc[HM_CHUNK_WORDS], scav[HM_CHUNK_WORDS];
  double y; /* layout, filled by the page writer */
} hm_chunk_t;

/* A loaded heap dump (malloc'd; gm_heapmap_free). */
typedef struct hm_heap {
  long pid;
  char version[32]; /* the gomalloc that wrote the dump */
  char *program;
  struct gm_stats st;
  bool detail; /* one block per span (else per-chunk summaries) */
  hm_span_t *spans;
  size_t nspans, nspans_cap;
  hm_chunk_t *chunks;
  size_t nchunks, nchunks_cap;
  uint64_t *words;
  size_t nwords, cap_words;
} hm_heap_t;

/* Read a heap dump from in into *h. 0, or -1 with a message in err. */
int gm_heapmap_load(FILE *in, hm_heap_t *h, char *err, size_t errlen);
void gm_heapmap_free(hm_heap_t *h);

/* Write the page for h to out. 0, or -1 on a write error. */
int gm_heapmap_write_page(FILE *out, hm_heap_t *h);

/* Draw the dump in dump_path into html_path, which is replaced at once
 * (written to html_path.tmp.PID, then renamed over it, so concurrent
 * writers never leave a half-written page). 0, or -1 with a message in
 * err. */
int gm_heapmap_render_file(const char *dump_path, const char *html_path, char *err,
                           size_t errlen);

#endif
