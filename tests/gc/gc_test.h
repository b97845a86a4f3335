/* gc_test.h: helpers of the collected-heap tests (tests/gc). */
#ifndef GM_GC_TEST_H
#define GM_GC_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "../common/check.h"
#include "gomalloc-gc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline struct gm_gc_stats gc_stats(void) {
  struct gm_gc_stats st;
  memset(&st, 0, sizeof st);
  gm_gc_stats(&st, sizeof st);
  return st;
}

/* Wipe the stack below the caller: dead frames of earlier calls hold stale
 * pointers that a conservative scan would take for live ones. */
static __attribute__((noinline, unused)) void gc_clear_stack(void) {
  volatile char buf[16384];
  memset((char *)buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

/* Drop a new block at once (garbage). */
static inline void gc_drop(void *p) { __asm__ volatile("" : : "r"(p)); }

/* Objects freed by the collector between two points, counted by stats. */
static inline uint64_t gc_freed(void) { return gc_stats().freed_objects; }

#endif
