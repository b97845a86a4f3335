/* test_fork.c: fork, thread exit and malloc_trim with a collected heap.
 * Two registered threads hold trees and wait; the main thread forks. The
 * child, where those threads do not exist, must collect without waiting
 * for them (their records dropped at fork), keep its own tree, allocate
 * on, and call malloc_trim; the parent collects too and its threads' trees
 * survive. Then the threads exit (unregistering) and collections go on. */
#include "gc_test.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct node {
  struct node *l, *r;
  long depth;
} node_t;

static node_t *tree(int d) {
  node_t *n = gm_gc_malloc(sizeof *n);
  n->depth = d;
  if (d > 0) {
    n->l = tree(d - 1);
    n->r = tree(d - 1);
  }
  return n;
}

static int ok(const node_t *n, int d) {
  return n && n->depth == d && (d == 0 || (ok(n->l, d - 1) && ok(n->r, d - 1)));
}

static int go[2]; /* a pipe the threads block on */

static void *holder(void *arg) {
  (void)arg;
  node_t *t = tree(10);
  char c;
  ssize_t r;
  while ((r = read(go[0], &c, 1)) < 0 && errno == EINTR)
    ; /* blocked in a system call: the stop signal may end it (gcstw.c) */
  if (r != 1)
    return NULL;
  for (int i = 0; i < 20; i++)
    gc_drop(tree(8));
  return ok(t, 10) ? t : NULL;
}

static __attribute__((noinline)) int child(void) {
  alarm(20);
  node_t *mine = tree(10);
  for (int i = 0; i < 200; i++)
    gc_drop(tree(10)); /* 200 x 64 KB: collections from the allocation path */
  gm_gc_collect();
  malloc_trim(0);
  struct gm_gc_stats st = gc_stats();
  if (!ok(mine, 10) || st.threads != 1 || st.collections < 2)
    return 1;
  return 0;
}

int main(void) {
  if (pipe(go) != 0)
    return 1;
  node_t *mine = tree(10);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, holder, NULL);
  while (gc_stats().threads < 3)
    usleep(1000);
  gm_gc_collect();
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(child());
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child failed (status %d: 14 = SIGALRM, a collection waited for a dead thread)",
        status);
  gm_gc_collect();
  if (write(go[1], "xx", 2) != 2)
    return 1;
  for (int i = 0; i < 2; i++) {
    void *r = NULL;
    pthread_join(th[i], &r);
    CHECK(r != NULL, "thread %d's tree did not survive", i);
  }
  CHECK(gc_stats().threads == 1, "%llu threads registered after exit",
        (unsigned long long)gc_stats().threads);
  for (int i = 0; i < 100; i++)
    gc_drop(tree(10));
  gm_gc_collect();
  malloc_trim(0);
  CHECK(ok(mine, 10), "main's tree did not survive");
  return check_summary();
}
