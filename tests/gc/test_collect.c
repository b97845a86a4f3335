/* test_collect.c: garbage is collected. Lists, binary trees and rings
 * (cycles) are built and dropped many times over; the heap must stay
 * bounded (a few times the largest structure, far below what was
 * allocated), collections must run from the allocation path on their own,
 * and a long-lived tree kept in a global all along must come out intact
 * (every node's pattern checked). */
#include "gc_test.h"

typedef struct node {
  struct node *left, *right;
  uint64_t val;
} node_t;

static node_t *keep; /* long-lived: reachable from data */

static node_t *tree(int depth, uint64_t v) {
  node_t *n = gm_gc_malloc(sizeof *n);
  if (!n)
    return NULL;
  n->val = v;
  if (depth > 0) {
    n->left = tree(depth - 1, 2 * v);
    n->right = tree(depth - 1, 2 * v + 1);
  }
  return n;
}

static long check_tree(const node_t *n, int depth, uint64_t v) {
  if (!n || n->val != v)
    return 1;
  if (depth == 0)
    return n->left || n->right;
  return check_tree(n->left, depth - 1, 2 * v) + check_tree(n->right, depth - 1, 2 * v + 1);
}

static __attribute__((noinline)) void lists(int rounds, int len) {
  for (int r = 0; r < rounds; r++) {
    node_t *head = NULL;
    for (int i = 0; i < len; i++) {
      node_t *n = gm_gc_malloc(sizeof *n);
      n->left = head;
      n->val = (uint64_t)i;
      head = n;
    }
    long bad = 0;
    for (int i = len - 1; head; head = head->left, i--)
      bad += head->val != (uint64_t)i;
    CHECK(bad == 0, "round %d: %ld list nodes corrupted", r, bad);
  }
}

static __attribute__((noinline)) void trees(int rounds, int depth) {
  for (int r = 0; r < rounds; r++) {
    node_t *t = tree(depth, 1);
    CHECK(check_tree(t, depth, 1) == 0, "round %d: tree corrupted", r);
  }
}

static __attribute__((noinline)) void rings(int rounds, int len) {
  for (int r = 0; r < rounds; r++) {
    node_t *first = gm_gc_malloc(sizeof *first), *prev = first;
    for (int i = 1; i < len; i++) {
      node_t *n = gm_gc_malloc(sizeof *n);
      n->val = (uint64_t)i;
      n->right = prev; /* backward links too: every node is in two cycles */
      prev->left = n;
      prev = n;
    }
    prev->left = first;
    first->right = prev;
  }
}

int main(void) {
  keep = tree(12, 1);
  uint64_t c0 = gc_stats().collections;
  size_t max_heap = 0;
  for (int i = 0; i < 20; i++) {
    lists(10, 10000);   /* 10 x 320 KB */
    trees(2, 14);       /* 2 x 1 MB */
    rings(10, 10000);   /* 10 x 320 KB */
    gc_clear_stack();
    struct gm_gc_stats st = gc_stats();
    if (st.heap_bytes > max_heap)
      max_heap = st.heap_bytes;
  }
  /* 20 x 8.4 MB allocated in all; the goal is 4 MiB or twice what lives. */
  struct gm_gc_stats st = gc_stats();
  CHECK(st.collections - c0 >= 10, "only %llu collections ran",
        (unsigned long long)(st.collections - c0));
  CHECK(max_heap < (size_t)48 << 20, "heap grew to %zu bytes", max_heap);
  CHECK(st.freed_objects > 1000000, "only %llu objects freed",
        (unsigned long long)st.freed_objects);
  gm_gc_collect();
  st = gc_stats();
  CHECK(st.live_after_mark < (size_t)8 << 20, "%llu bytes still live after the last collection",
        (unsigned long long)st.live_after_mark);
  CHECK(check_tree(keep, 12, 1) == 0, "the long-lived tree was damaged");
  printf("collections %llu, max heap %zu KiB, live %llu KiB, max pause %.3f ms\n",
         (unsigned long long)st.collections, max_heap >> 10,
         (unsigned long long)st.live_after_mark >> 10, st.max_pause_ns / 1e6);
  return check_summary();
}
