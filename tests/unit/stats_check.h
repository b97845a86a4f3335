/* stats_check.h: the invariants every gm_stats result must satisfy, shared
 * by the test_stats*.c tests. */
#ifndef GM_STATS_CHECK_H
#define GM_STATS_CHECK_H

#include "unit.h"

#include "arena.h"
#include "gomalloc.h"
#include "sizeclass.h"
#include "stats.h"

#include <string.h>

/* The sums that hold for any call, quiescent or not. */
static inline void check_sums(const struct gm_stats *st, const char *when) {
  CHECK(st->version == GM_STATS_VERSION, "%s: version %u", when, st->version);
  CHECK(st->size == sizeof *st, "%s: size %u", when, st->size);
  CHECK(st->spans == st->small_spans + st->large_spans, "%s: spans %llu != %llu + %llu", when,
        (unsigned long long)st->spans, (unsigned long long)st->small_spans,
        (unsigned long long)st->large_spans);
  CHECK(st->small_spans == st->cached_spans + st->partial_spans + st->full_spans,
        "%s: small spans %llu != cached %llu + partial %llu + full %llu", when,
        (unsigned long long)st->small_spans, (unsigned long long)st->cached_spans,
        (unsigned long long)st->partial_spans, (unsigned long long)st->full_spans);
  CHECK(st->mapped_bytes == st->span_bytes + st->free_bytes,
        "%s: mapped %llu != spans %llu + free %llu", when, (unsigned long long)st->mapped_bytes,
        (unsigned long long)st->span_bytes, (unsigned long long)st->free_bytes);
  CHECK(st->released_bytes <= st->free_bytes, "%s: released > free", when);
  CHECK(st->released_slot_bytes <= st->free_slot_bytes, "%s: released slots > free slots", when);
  CHECK(st->mapped_bytes <= st->reserved_bytes, "%s: mapped > reserved", when);
  CHECK(st->object_bytes <= st->span_bytes, "%s: object bytes > span bytes", when);
  CHECK(st->requested_bytes <= st->object_bytes, "%s: requested > object bytes", when);
  uint64_t spans = 0, sbytes = 0, obytes = 0, objs = 0, allocs = 0, frees = 0, tail = 0, round = 0,
           fslot = 0;
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st->classes[k];
    spans += cs->spans;
    sbytes += cs->span_bytes;
    obytes += cs->in_use_bytes;
    objs += cs->objects;
    allocs += cs->allocs;
    frees += cs->frees;
    tail += cs->tail_waste_bytes;
    round += cs->rounding_waste_bytes;
    fslot += cs->free_objects * cs->size;
    if (k == 0) {
      CHECK(cs->spans == st->large_spans && cs->objects == cs->spans, "%s: large class", when);
      continue;
    }
    CHECK(cs->size == gm_class_to_size[k] && cs->objects_per_span == gm_class_to_nelems[k] &&
              cs->span_size == (uint64_t)gm_class_to_allocnpages[k] * GM_PAGE_SIZE,
          "%s: class %u geometry", when, k);
    CHECK(cs->tail_waste == cs->span_size - cs->objects_per_span * cs->size, "%s: class %u tail",
          when, k);
    CHECK(cs->objects + cs->free_objects == cs->spans * cs->objects_per_span,
          "%s: class %u: %llu in use + %llu free != %llu spans x %llu", when, k,
          (unsigned long long)cs->objects, (unsigned long long)cs->free_objects,
          (unsigned long long)cs->spans, (unsigned long long)cs->objects_per_span);
    CHECK(cs->in_use_bytes == cs->objects * cs->size, "%s: class %u in-use bytes", when, k);
    CHECK(cs->span_bytes == cs->spans * cs->span_size, "%s: class %u span bytes", when, k);
    CHECK(cs->tail_waste_bytes == cs->spans * cs->tail_waste, "%s: class %u tail bytes", when, k);
    CHECK(cs->rounding_waste_bytes <= cs->in_use_bytes, "%s: class %u rounding", when, k);
  }
  CHECK(spans == st->spans, "%s: class spans %llu != %llu", when, (unsigned long long)spans,
        (unsigned long long)st->spans);
  CHECK(sbytes == st->span_bytes, "%s: class span bytes", when);
  CHECK(obytes == st->object_bytes, "%s: class object bytes", when);
  CHECK(objs == st->objects, "%s: class objects", when);
  CHECK(allocs == st->allocs && frees == st->frees, "%s: class allocs/frees", when);
  CHECK(tail == st->tail_waste_bytes && round == st->rounding_waste_bytes, "%s: waste sums", when);
  CHECK(fslot == st->free_slot_bytes, "%s: free slot bytes", when);
  CHECK(st->object_bytes - st->rounding_waste_bytes == st->requested_bytes, "%s: requested",
        when);
}

/* What holds when no thread allocates or frees during the call: the
 * census agrees span for span, and allocs - frees is the live count. */
static inline void check_quiescent(const struct gm_stats *st, const char *when) {
  check_sums(st, when);
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "%s: census: %s", when, c.error);
  CHECK(c.small_spans == st->small_spans && c.large_spans == st->large_spans,
        "%s: census spans %zu+%zu, stats %llu+%llu", when, c.small_spans, c.large_spans,
        (unsigned long long)st->small_spans, (unsigned long long)st->large_spans);
  CHECK(c.cached_spans == st->cached_spans && c.partial_spans == st->partial_spans &&
            c.full_spans == st->full_spans,
        "%s: census span states differ", when);
  CHECK(c.live_objects == st->objects, "%s: census objects %zu, stats %llu", when,
        c.live_objects, (unsigned long long)st->objects);
  CHECK(c.live_bytes == st->object_bytes, "%s: census bytes %zu, stats %llu", when, c.live_bytes,
        (unsigned long long)st->object_bytes);
  CHECK((uint64_t)c.span_pages * GM_PAGE_SIZE == st->span_bytes, "%s: census span pages", when);
  CHECK((uint64_t)c.free_pages * GM_PAGE_SIZE == st->free_bytes, "%s: census free pages", when);
  CHECK(c.arenas == st->arenas, "%s: arenas", when);
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++)
    CHECK(c.live_by_class[k] == st->classes[k].objects, "%s: class %u census %zu stats %llu",
          when, k, c.live_by_class[k], (unsigned long long)st->classes[k].objects);
  CHECK(st->allocs - st->frees == st->objects, "%s: allocs %llu - frees %llu != objects %llu",
        when, (unsigned long long)st->allocs, (unsigned long long)st->frees,
        (unsigned long long)st->objects);
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    const struct gm_class_stats *cs = &st->classes[k];
    CHECK(cs->allocs - cs->frees == cs->objects,
          "%s: class %u allocs %llu - frees %llu != objects %llu", when, k,
          (unsigned long long)cs->allocs, (unsigned long long)cs->frees,
          (unsigned long long)cs->objects);
  }
}

static inline void take_stats(struct gm_stats *st) {
  memset(st, 0xa5, sizeof *st);
  st->size = sizeof *st;
  CHECK(gm_stats(st) == 0, "gm_stats failed");
}

/* Bytes the heap gives a live block: its slot, or its pages if large. The
 * same as gm_usable_size in release builds; debug builds report the
 * requested size there and keep a trailer in the rest of the slot. */
static inline size_t block_bytes(void *p) { return gm_span_of((uintptr_t)p)->elemsize; }

/* Size class of a live small block (0 for large). */
static inline unsigned class_of_block(void *p) {
  return gm_spanclass_sizeclass(gm_span_of((uintptr_t)p)->spanclass);
}

#endif
