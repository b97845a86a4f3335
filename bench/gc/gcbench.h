/* gcbench.h: what the collected-heap workloads share. Each workload is
 * written once against Boehm GC's API and built three ways (run.sh):
 *   boehm     Debian's libgc (gc.h, -lgc)
 *   gomalloc  gomalloc's collected heap through its Boehm-compatible gc.h
 *   malloc    gomalloc's malloc and free: the same program freeing what
 *             it drops (BENCH_MALLOC), as a baseline without a collector
 * and prints one line: wall ms, collections, max and total pause in ms,
 * peak RSS in KiB. Pauses: gomalloc's from gm_gc_stats (stop to start of
 * the world, mark and sweep inside); Boehm's from its collection events,
 * START to END (the world is stopped for the whole of a non-incremental
 * collection; Boehm sweeps lazily afterwards, outside that span). */
#ifndef GCBENCH_H
#define GCBENCH_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#ifdef BENCH_MALLOC
#define B_MALLOC(n) calloc(1, n)
#define B_MALLOC_ATOMIC(n) malloc(n)
#define B_FREE(p) free(p)
#define B_INIT() ((void)0)
#else
#define GC_THREADS
#include <gc.h>
#define B_MALLOC(n) GC_MALLOC(n)
#define B_MALLOC_ATOMIC(n) GC_MALLOC_ATOMIC(n)
#define B_FREE(p) ((void)(p)) /* the collector frees */
#define B_INIT() GC_INIT()
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if !defined(BENCH_MALLOC) && !defined(GOMALLOC_GC_COMPAT)
static uint64_t ev_start, max_pause, total_pause;
static void GC_CALLBACK on_event(GC_EventType e) {
  if (e == GC_EVENT_START) {
    ev_start = now_ns();
  } else if (e == GC_EVENT_END && ev_start) {
    uint64_t d = now_ns() - ev_start;
    total_pause += d;
    if (d > max_pause)
      max_pause = d;
  }
}
static void bench_start(void) { GC_set_on_collection_event(on_event); }
#else
static void bench_start(void) {}
#endif

static void bench_report(const char *name, uint64_t t0) {
  uint64_t wall = now_ns() - t0;
  unsigned long long gcs = 0;
  double maxp = 0, totp = 0;
#if defined(GOMALLOC_GC_COMPAT)
  struct gm_gc_stats st;
  gm_gc_stats(&st, sizeof st);
  gcs = st.collections;
  maxp = st.max_pause_ns / 1e6;
  totp = st.total_pause_ns / 1e6;
#elif !defined(BENCH_MALLOC)
  gcs = GC_get_gc_no();
  maxp = max_pause / 1e6;
  totp = total_pause / 1e6;
#endif
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%s wall_ms=%.1f collections=%llu max_pause_ms=%.3f total_pause_ms=%.1f peak_rss_kib=%ld\n",
         name, wall / 1e6, gcs, maxp, totp, ru.ru_maxrss);
}

#endif
