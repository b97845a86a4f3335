/* heapdump.h: the heap dump, a file holding what the heap map draws (after
 * Go's runtime/heapdump.go, which writes debug.WriteHeapDump's versioned
 * format to a file descriptor). gm_write_heap_dump (gomalloc-stats.h)
 * writes it; tools/heapmap_load.c reads it; `gomalloc heapmap` draws it.
 *
 * Format, version 1: text, one record a line, fields separated by one
 * space; numbers in decimal, or hex with 0x where marked (hex). In order:
 *
 *   gomalloc heap dump 1
 *   process PID GOMALLOC_VERSION PROGRAM      (PROGRAM: the rest of the line)
 *   geometry PAGE_BYTES CHUNK_PAGES ARENA_BYTES
 *   totals NAME=VALUE ...                      (GM_HEAPDUMP_TOTALS below)
 *   class K NAME=VALUE ...                     (one per class 0..67:
 *                                               GM_HEAPDUMP_CLASS, and
 *                                               max_waste=hex of the
 *                                               double's IEEE-754 bits)
 *   heap DETAIL SPANS CHUNKS                   (DETAIL 1: spans have bitmaps)
 *   span BASE(hex) NPAGES SPANCLASS STATE NELEMS ALLOC_COUNT FREEINDEX
 *        LIVE ELEMSIZE RELEASED NWORDS [USED(hex) x NWORDS PENDING(hex) x NWORDS]
 *                                              (SPANS lines, address order;
 *                                               fields as in heapmap.h)
 *   chunk BASE(hex) ALLOC(hex) x W SCAV(hex) x W
 *                                              (CHUNKS lines, W =
 *                                               CHUNK_PAGES / 64)
 *   end SPANS CHUNKS
 *
 * The totals and class records are struct gm_stats taken just before the
 * snapshot; a reader skips names it does not know. A change that an older
 * reader would misread bumps the version. */
#ifndef GM_HEAPDUMP_H
#define GM_HEAPDUMP_H

#define GM_HEAPDUMP_VERSION 1
#define GM_HEAPDUMP_MAGIC "gomalloc heap dump"

/* The uint64_t fields of struct gm_stats and struct gm_class_stats, by
 * name, in the order written. */
#define GM_HEAPDUMP_TOTALS(X)                                                                      \
  X(reserved_bytes) X(mapped_bytes) X(span_bytes) X(object_bytes) X(requested_bytes)               \
  X(free_bytes) X(released_bytes) X(released_slot_bytes) X(metadata_bytes) X(resident_bytes)       \
  X(free_slot_bytes) X(tail_waste_bytes) X(rounding_waste_bytes) X(spans) X(small_spans)           \
  X(large_spans) X(cached_spans) X(partial_spans) X(full_spans) X(arenas) X(threads) X(objects)    \
  X(allocs) X(frees)
#define GM_HEAPDUMP_CLASS(X)                                                                       \
  X(size) X(span_size) X(objects_per_span) X(tail_waste) X(spans) X(objects) X(free_objects)       \
  X(in_use_bytes) X(span_bytes) X(allocs) X(frees) X(tail_waste_bytes) X(rounding_waste_bytes)     \
  X(samples) X(sampled_request_bytes)

/* GOMALLOC_HEAPMAP at exit: write the dump beside path (path.PID.heapdump)
 * and run the renderer to draw path from it; tell the outcome on msg_fd
 * (one line; with the command to run if the page could not be drawn).
 * Makes no malloc call. */
void gm_heapdump_at_exit(const char *path, int msg_fd);

#endif
