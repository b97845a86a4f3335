/* wl_gcbench.c: the classic GCBench shape (Boehm, Ellis, Kovac): a
 * long-lived tree of depth 16 and an array of 500000 doubles stay alive
 * while trees of depth 4..16 are built top-down and bottom-up and dropped,
 * after a depth-18 "stretch" tree. */
#include "gcbench.h"

typedef struct Node {
  struct Node *left, *right;
  int i, j;
} Node;

enum { kStretchTreeDepth = 18, kLongLivedTreeDepth = 16, kArraySize = 500000, kMinTreeDepth = 4,
       kMaxTreeDepth = 16 };

/* Kept in a global and counted at the end, so that the compiler cannot
 * let the long-lived tree die early (GCBench's own check only compares
 * the pointer with NULL, which an optimiser may decide right away). */
static Node *volatile longlived_root;

static long count(const Node *n) { return n ? 1 + count(n->left) + count(n->right) : 0; }

static int tree_size(int i) { return (1 << (i + 1)) - 1; }
static int num_iters(int i) { return 2 * tree_size(kStretchTreeDepth) / tree_size(i); }

static Node *new_node(Node *l, Node *r) {
  Node *n = B_MALLOC(sizeof *n);
  n->left = l;
  n->right = r;
  return n;
}

static void populate(int depth, Node *n) {
  if (depth <= 0)
    return;
  depth--;
  n->left = new_node(NULL, NULL);
  n->right = new_node(NULL, NULL);
  populate(depth, n->left);
  populate(depth, n->right);
}

static Node *make_tree(int depth) {
  if (depth <= 0)
    return new_node(NULL, NULL);
  return new_node(make_tree(depth - 1), make_tree(depth - 1));
}

static void drop(Node *n) {
#ifdef BENCH_MALLOC
  if (!n)
    return;
  drop(n->left);
  drop(n->right);
  free(n);
#else
  (void)n;
#endif
}

static void time_construction(int depth) {
  int iters = num_iters(depth);
  for (int i = 0; i < iters; i++) {
    Node *t = new_node(NULL, NULL);
    populate(depth, t);
    drop(t);
  }
  for (int i = 0; i < iters; i++)
    drop(make_tree(depth));
}

int main(void) {
  B_INIT();
  bench_start();
  uint64_t t0 = now_ns();
  drop(make_tree(kStretchTreeDepth));
  Node *longlived = new_node(NULL, NULL);
  populate(kLongLivedTreeDepth, longlived);
  longlived_root = longlived;
  double *array = B_MALLOC_ATOMIC(sizeof(double) * kArraySize);
  for (int i = 0; i < kArraySize / 2; i++)
    array[i] = 1.0 / i;
  for (int d = kMinTreeDepth; d <= kMaxTreeDepth; d += 2)
    time_construction(d);
  if (count(longlived_root) != tree_size(kLongLivedTreeDepth) || array[1000] != 1.0 / 1000)
    fprintf(stderr, "failed\n");
  bench_report("gcbench", t0);
  drop(longlived);
  B_FREE(array);
  return 0;
}
