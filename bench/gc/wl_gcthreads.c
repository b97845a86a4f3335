/* wl_gcthreads.c [N]: N threads (default 4) each keep a long-lived tree
 * of depth 14 and build and drop trees of depth 4..14 (GCBench's inner
 * loops, each thread as much work as GCBench's), while linking a new small tree into
 * a slot of a shared array other threads read: allocation from several
 * threads at once, with collections stopping all of them. */
#include "gcbench.h"

typedef struct Node {
  struct Node *left, *right;
  int i, j;
} Node;

static Node *shared[64];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static Node *new_node(Node *l, Node *r) {
  Node *n = B_MALLOC(sizeof *n);
  n->left = l;
  n->right = r;
  return n;
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

static long count(Node *n) { return n ? 1 + count(n->left) + count(n->right) : 0; }

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  Node *longlived = make_tree(14);
  long seen = 0;
  for (int d = 4; d <= 14; d += 2) {
    int iters = 2 * ((1 << 19) - 1) / ((1 << (d + 1)) - 1);
    for (int i = 0; i < iters; i++) {
      drop(make_tree(d));
      if (i % 64 == 0) {
        Node *mine = make_tree(3), *old;
        pthread_mutex_lock(&lock);
        old = shared[(id * 7 + i) % 64];
        shared[(id * 7 + i) % 64] = mine;
        seen += count(old);
        pthread_mutex_unlock(&lock);
        drop(old);
      }
    }
  }
  if (count(longlived) != (1 << 15) - 1)
    fprintf(stderr, "failed\n");
  drop(longlived);
  return (void *)seen;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  if (n < 1 || n > 64)
    n = 4;
  B_INIT();
#ifndef BENCH_MALLOC
  GC_allow_register_threads();
#endif
  bench_start();
  uint64_t t0 = now_ns();
  pthread_t th[64];
  for (int i = 0; i < n; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < n; i++)
    pthread_join(th[i], NULL);
  char name[32];
  snprintf(name, sizeof name, "gcthreads-%d", n);
  bench_report(name, t0);
  for (int i = 0; i < 64; i++)
    drop(shared[i]);
  return 0;
}
