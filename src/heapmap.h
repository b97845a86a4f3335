/* heapmap.h: the heap map (gm_dump_heap_html, declared in gomalloc-stats.h).
 *
 * The page it writes is self-contained: inline SVG drawn by the C code, so
 * the map shows without script, and a small script for the tooltips and
 * the #selftest check. Its data for the script:
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
 * rect.f / rect.r[data-f], chunk summaries as rect.k[data-k]. */
#ifndef GM_HEAPMAP_H
#define GM_HEAPMAP_H

/* Above this many spans (or GM_HEAPMAP_MAX_CHUNKS chunks), the map draws
 * per-chunk summaries. GOMALLOC_HEAPMAP_MAX_SPANS overrides the span limit. */
#define GM_HEAPMAP_MAX_SPANS 20000
#define GM_HEAPMAP_MAX_CHUNKS 1024 /* 4 GiB mapped */

#endif
