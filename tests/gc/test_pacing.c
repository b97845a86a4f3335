/* test_pacing.c: the heap goal (gc.c, "Pacing"). Go's goal, live *
 * (1 + percent/100), holds while it stays within the largest heap a cycle
 * has seen; past that mark the heap grows by two thirds of that headroom; the
 * minimum goal is Go's heapminimum, 4 MiB scaled with the percent. Checks
 * gm_gc_stats' heap_goal against live_after_mark after explicit
 * collections, so it depends on no timing. */
#include "gc_test.h"

enum { NODE = 64, BIG_MIB = 24 };

typedef struct node {
  struct node *next;
} node_t;
static node_t *volatile list;

static __attribute__((noinline)) void build(void) {
  node_t *head = NULL;
  for (size_t i = 0; i < ((size_t)BIG_MIB << 20) / NODE; i++) {
    node_t *n = gm_gc_malloc(NODE);
    n->next = head;
    head = n;
  }
  list = head;
}

/* Cut the list after half its nodes: the rest is garbage. */
static __attribute__((noinline)) void halve(void) {
  node_t *n = list;
  for (size_t i = 1; i < ((size_t)BIG_MIB << 20) / NODE / 2; i++)
    n = n->next;
  n->next = NULL;
}

static double ratio(struct gm_gc_stats st) {
  return st.live_after_mark ? (double)st.heap_goal / (double)st.live_after_mark : 0;
}

int main(void) {
  gm_gc_collect();
  gm_gc_set_percent(-1); /* the list grows without a collection */
  build();
  gc_clear_stack();
  gm_gc_set_percent(100);

  /* The heap has never been larger than the list: growing past it, the
   * goal is live * 5/3, not Go's live * 2. */
  gm_gc_collect();
  struct gm_gc_stats st = gc_stats();
  CHECK(st.live_after_mark >= ((size_t)BIG_MIB << 20) * 9 / 10, "live %llu after the build",
        (unsigned long long)st.live_after_mark);
  CHECK(ratio(st) > 1.62 && ratio(st) < 1.72,
        "growing: goal %llu is %.2f x live %llu (want 1.67)", (unsigned long long)st.heap_goal,
        ratio(st), (unsigned long long)st.live_after_mark);

  /* Half of it dropped: Go's goal, twice live, stays within the heap's
   * high-water mark, so it holds. */
  halve();
  gc_clear_stack();
  gm_gc_collect();
  st = gc_stats();
  CHECK(st.live_after_mark < ((size_t)BIG_MIB << 20) * 6 / 10, "live %llu after halving",
        (unsigned long long)st.live_after_mark);
  CHECK(ratio(st) > 1.95 && ratio(st) < 2.05,
        "below the peak: goal %llu is %.2f x live %llu (want 2)", (unsigned long long)st.heap_goal,
        ratio(st), (unsigned long long)st.live_after_mark);

  /* Everything dropped, percent 50: the minimum is Go's heapminimum
   * scaled, 2 MiB (4 MiB at percent 100). */
  list = NULL;
  gc_clear_stack();
  gm_gc_set_percent(50);
  gm_gc_collect();
  st = gc_stats();
  CHECK(st.live_after_mark < (1u << 20), "live %llu after dropping the list",
        (unsigned long long)st.live_after_mark);
  CHECK(st.heap_goal >= (2u << 20) && st.heap_goal < (3u << 20),
        "percent 50, small heap: goal %llu (want 2 MiB)", (unsigned long long)st.heap_goal);
  gm_gc_set_percent(100);
  st = gc_stats();
  CHECK(st.heap_goal == (4u << 20) || st.live_after_mark > (1u << 20),
        "percent 100, small heap: goal %llu (want 4 MiB)", (unsigned long long)st.heap_goal);
  return check_summary();
}
