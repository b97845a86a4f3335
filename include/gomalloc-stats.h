/* gomalloc-stats.h: heap statistics, the statistics printers and the heap
 * dump the heap map is drawn from (included by gomalloc.h).
 *
 * All of it is computed on demand from state the allocator keeps anyway
 * (span bitmaps, per-class sweep counters, page-heap counters) plus a
 * sample of request sizes taken on the malloc slow path; the malloc and
 * free fast paths do no bookkeeping for it.
 *
 * Environment (read once at start):
 *   GOMALLOC_STATS=1        print gm_print_stats_fd() to stderr at exit
 *   GOMALLOC_STATS=json     the same as JSON (gm_print_stats_json_fd())
 *   GOMALLOC_STATS_FILE=F   write the statistics to F instead of stderr
 *   GOMALLOC_HEAPMAP=F      write the heap map to F at exit: a heap dump
 *                           (gm_write_heap_dump()) beside F, drawn into F by
 *                           `gomalloc heapmap` (see the README)
 *   GOMALLOC_REPORT_PID=N   only process N reports (else every process does)
 * In file names, %p stands for the process id (each process of a program
 * that forks or runs others then writes its own file). `gomalloc run` sets
 * these, and GOMALLOC_REPORT_PID to the program's own pid unless asked to
 * report on every process. */
#ifndef GOMALLOC_STATS_H
#define GOMALLOC_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifndef GM_API
#if defined(__GNUC__)
#define GM_API __attribute__((visibility("default")))
#else
#define GM_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define GM_STATS_VERSION 1
/* Size classes 1..67, and class 0 for large objects (one span each). */
#define GM_STATS_NUM_CLASSES 68

/* One size class. Class 0 holds the large objects: its geometry fields are
 * 0 and its spans, objects, allocs and frees count large blocks. */
struct gm_class_stats {
  /* The class geometry (the columns of Go's size-class table). */
  uint64_t size;             /* bytes/obj */
  uint64_t span_size;        /* bytes/span */
  uint64_t objects_per_span; /* objects */
  uint64_t tail_waste;       /* bytes left at the end of each span */
  double max_waste;          /* worst-case share of a span lost, percent */
  /* Now. */
  uint64_t spans;        /* spans in use */
  uint64_t objects;      /* objects in use (allocated, not freed) */
  uint64_t free_objects; /* free slots in those spans (freed ones included) */
  uint64_t in_use_bytes; /* objects * size (class 0: pages of large blocks) */
  uint64_t span_bytes;   /* spans * span_size (class 0: = in_use_bytes) */
  /* Since start. allocs - frees == objects whenever no thread is
   * allocating or freeing at the time of the call. */
  uint64_t allocs, frees;
  /* Bytes lost: tail_waste_bytes = spans * tail_waste exactly;
   * rounding_waste_bytes = objects * (size - mean request), the mean taken
   * over sampled requests (an estimate). */
  uint64_t tail_waste_bytes;
  uint64_t rounding_waste_bytes;
  uint64_t samples;               /* requests sampled in this class */
  uint64_t sampled_request_bytes; /* their requested bytes */
};

struct gm_stats {
  /* In: the caller's sizeof(struct gm_stats) (older, shorter versions of
   * the struct are filled up to their size). Out: bytes filled. */
  uint32_t size;
  uint32_t version; /* out: GM_STATS_VERSION */

  /* Heap totals, bytes. mapped == span + free; free includes released. */
  uint64_t reserved_bytes;       /* arena address space reserved */
  uint64_t mapped_bytes;         /* committed: given to the page heap */
  uint64_t span_bytes;           /* in use by spans, small and large */
  uint64_t object_bytes;         /* in use by live objects at their class size */
  uint64_t requested_bytes;      /* object_bytes - rounding waste (estimate) */
  uint64_t free_bytes;           /* free pages in the page heap */
  uint64_t released_bytes;       /* of those, returned to the OS (scavenged) */
  uint64_t released_slot_bytes;  /* free slots in small spans returned to the OS */
  uint64_t metadata_bytes;       /* span structs, arena maps, page-heap index, caches */
  uint64_t resident_bytes;       /* the process's RSS (all of it, not only the heap) */
  uint64_t free_slot_bytes;      /* free slots inside small spans */
  uint64_t tail_waste_bytes;     /* sum over classes */
  uint64_t rounding_waste_bytes; /* sum over classes (estimate) */

  /* Counts. spans == small_spans + large_spans;
   * small_spans == cached_spans + partial_spans + full_spans. */
  uint64_t spans, small_spans, large_spans;
  uint64_t cached_spans;  /* owned by a thread's cache */
  uint64_t partial_spans; /* on a central list, with free slots */
  uint64_t full_spans;    /* on a central list, full */
  uint64_t arenas;        /* 64 MiB arenas reserved */
  uint64_t threads;       /* threads with a cache */
  uint64_t objects;       /* live objects, small and large */
  uint64_t allocs, frees; /* since start, small and large */

  struct gm_class_stats classes[GM_STATS_NUM_CLASSES];
};

/* Fill *st (set st->size first: struct gm_stats st = {.size = sizeof st}).
 * Returns 0, or -1 with errno = EINVAL if st is NULL or st->size < 8.
 * Costs one walk over the span metadata (not over user memory) with the
 * central and heap locks held; exact when no other thread is allocating or
 * freeing, and always self-consistent (the sums above hold). */
GM_API int gm_stats(struct gm_stats *st);

/* Where the printers write: called with each piece of text in turn. */
typedef void (*gm_write_fn)(void *arg, const char *s, size_t n);

/* The statistics as a table per size class (Go's columns plus live ones)
 * and the heap totals, or as one JSON object, passed to fn(arg, ...).
 * Both take the statistics first and then print with no allocator lock
 * held, and call no malloc. 0, or -1 with errno set if the statistics
 * cannot be taken (ENOMEM). */
GM_API int gm_print_stats_to(gm_write_fn fn, void *arg);
GM_API int gm_print_stats_json_to(gm_write_fn fn, void *arg);
/* The same, written to the file descriptor fd (write(2), retried on
 * EINTR). 0, or -1 with errno set on a write error. */
GM_API int gm_print_stats_fd(int fd);
GM_API int gm_print_stats_json_fd(int fd);

/* Write a heap dump to the file descriptor fd: the heap's layout (every
 * span with its fields and, up to 20000 spans (GOMALLOC_HEAPMAP_MAX_SPANS)
 * and 4 GiB, its allocation bitmaps; every 4 MiB chunk's page bitmaps) and
 * the statistics, in a small versioned text format (src/heapdump.h).
 * `gomalloc heapmap -o FILE.html DUMP` draws it as the heap map: one
 * self-contained HTML page (inline SVG and a small script, nothing
 * fetched) drawing every arena as strips of pages, each span as a block
 * coloured by size class and shaded by how full it is, and free, released
 * and large spans distinctly; hovering shows a span's fields and
 * allocation bitmap. Past 20000 spans or 4 GiB it draws one summary block
 * per 4 MiB chunk instead. Opening FILE#selftest runs a self-check whose
 * result goes into the title. Calls no malloc. Returns 0, or -1 with errno
 * set. */
GM_API int gm_write_heap_dump(int fd);

#ifdef __cplusplus
}
#endif

#endif /* GOMALLOC_STATS_H */
