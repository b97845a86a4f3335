/* icount: fixed malloc/free loops whose instruction counts are the fast
 * paths' yardstick. icount.sh runs each scenario under callgrind, collecting
 * only inside measure() (--toggle-collect), so start-up, exit and the first
 * touch of each span's pages (done in warm-up) cost nothing, and compares
 * the counts per operation with icount.golden.
 *
 * Instruction counts are deterministic where wall time is not: a change of
 * one instruction on malloc's or free's fast path shows here exactly, and a
 * slow-path change shows in the amortised totals. Wall time still decides
 * (make bench); this file only makes regressions impossible to miss. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS 100000
#define LIVE 1000
#define RANDOM_LIVE 4000
#define WINDOW 8

static void *volatile sink;
static void *slots[RANDOM_LIVE];
static void *window[WINDOW];
static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

/* One scenario, OPS operations (a malloc and a free each). */
__attribute__((noinline)) static void run(const char *name) {
  if (!strcmp(name, "pairs64")) {
    for (int i = 0; i < OPS; i++) {
      void *p = malloc(64);
      sink = p;
      free(p);
    }
  } else if (!strcmp(name, "pairs-mixed")) {
    /* 16 B to 1 KiB, one size after another: every class's cache in turn. */
    for (int i = 0; i < OPS; i++) {
      void *p = malloc(16 + (size_t)(i % 64) * 16);
      sink = p;
      free(p);
    }
  } else if (!strcmp(name, "churn")) {
    /* LIVE blocks of 8-256 B; each step frees a random one and replaces it. */
    for (int i = 0; i < OPS; i++) {
      uint32_t r = next();
      size_t k = r % LIVE;
      free(slots[k]);
      slots[k] = malloc(8 + (r >> 16) % 249);
    }
  } else if (!strcmp(name, "pairs-medium") || !strcmp(name, "pairs-mid")) {
    /* wl_pairs' medium (512 B-8 KiB) and mid (8-32 KiB) modes: each block
     * freed WINDOW operations later. Classes above 8 KiB hold one to four
     * objects per span, so these loops measure span switching. */
    size_t lo = name[7] == 'e' ? 512 : 8192, span = name[7] == 'e' ? 7681 : 24577;
    for (int i = 0; i < OPS; i++) {
      size_t k = (size_t)i % WINDOW;
      free(window[k]);
      window[k] = malloc(lo + next() % span);
      sink = window[k];
    }
  } else if (!strcmp(name, "random")) {
    /* RANDOM_LIVE blocks of 8-520 B, one replaced at random per step: the
     * commonest pattern (issue 16), spread over spans and 30 classes. */
    for (int i = 0; i < OPS; i++) {
      uint32_t r = next();
      size_t k = r % RANDOM_LIVE;
      free(slots[k]);
      slots[k] = malloc(8 + (r >> 16) % 513);
    }
  } else if (!strcmp(name, "batch")) {
    /* LIVE blocks of 48 B allocated, then freed in allocation order. */
    for (int i = 0; i < OPS / LIVE; i++) {
      for (int k = 0; k < LIVE; k++)
        slots[k] = malloc(48);
      for (int k = 0; k < LIVE; k++)
        free(slots[k]);
    }
  } else {
    fprintf(stderr, "icount: unknown scenario %s\n", name);
    exit(2);
  }
}

/* What callgrind collects (--toggle-collect=measure). */
__attribute__((noinline)) static void measure(const char *name) { run(name); }

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: icount SCENARIO (pairs64, pairs-mixed, pairs-medium, pairs-mid, churn, random, batch)\n");
    return 2;
  }
  int random = !strcmp(argv[1], "random");
  for (int k = 0; k < (random ? RANDOM_LIVE : LIVE); k++)
    slots[k] = malloc(8 + (next() >> 16) % (random ? 513 : 249));
  /* Warm-up: the same loop once uncollected, so spans exist and are touched. */
  run(argv[1]);
  measure(argv[1]);
  return 0;
}
