/* test_realloc.c: gm_gc_realloc and gm_gc_free mixed with collections.
 *   - a vector of node pointers grown one element at a time with
 *     gm_gc_realloc (small, then large blocks) while nodes are allocated
 *     and every third one is freed with gm_gc_free; collections run from
 *     the allocation path all along; every kept node keeps its pattern;
 *   - realloc keeps the kind: an uncollectable block reallocated is still
 *     never collected (its only pointer in malloc memory), and its
 *     contents, which point at a node, still keep that node;
 *   - large blocks: allocated, grown, shrunk, freed, collected;
 *   - faults, each in a forked child that must abort with its message:
 *     plain free of a collected block, gm_gc_free twice, gm_gc_free of
 *     malloc memory and of an interior pointer. */
#include "gc_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct node {
  uint64_t id, check;
  char pad[32];
} node_t;

static node_t **vec; /* root: data */
static size_t vlen;

static node_t *new_node(uint64_t id) {
  node_t *n = gm_gc_malloc(sizeof *n);
  n->id = id;
  n->check = ~id;
  memset(n->pad, (int)(id & 0x7f), sizeof n->pad);
  return n;
}

static int node_ok(const node_t *n, uint64_t id) {
  if (!n || n->id != id || n->check != ~id)
    return 0;
  for (size_t i = 0; i < sizeof n->pad; i++)
    if (n->pad[i] != (char)(id & 0x7f))
      return 0;
  return 1;
}

static __attribute__((noinline)) void grow_and_free(size_t n) {
  for (size_t i = 0; i < n; i++) {
    node_t **v = gm_gc_realloc(vec, (vlen + 1) * sizeof *v);
    if (!CHECK(v != NULL, "realloc to %zu elements failed", vlen + 1))
      return;
    vec = v;
    vec[vlen] = new_node(vlen);
    vlen++;
    if (i % 3 == 2) {
      gm_gc_free(vec[vlen - 2]); /* the one before: freed, its slot NULL */
      vec[vlen - 2] = NULL;
    }
    gc_drop(gm_gc_malloc(64)); /* garbage */
  }
}

static __attribute__((noinline)) void **make_uncoll(void) {
  void **u = gm_gc_malloc_uncollectable(32);
  u[0] = new_node(777);
  for (int i = 0; i < 10; i++)
    u = gm_gc_realloc(u, 32 + 64 * (size_t)i); /* moves across classes */
  void **holder = malloc(sizeof *holder);      /* not a root */
  *holder = (void *)((uintptr_t)u ^ 0x5a5a5a5a5a5a5a5aULL);
  return holder;
}

static __attribute__((noinline)) void churn(int n) {
  for (int i = 0; i < n; i++)
    gc_drop(gm_gc_malloc(48));
}

static int dies_with(void (*fn)(void), const char *msg) {
  int fd[2];
  if (pipe(fd) != 0)
    return 0;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    dup2(fd[1], 2);
    fn();
    _exit(0);
  }
  close(fd[1]);
  char buf[512] = {0};
  size_t got = 0;
  ssize_t r;
  while (got < sizeof buf - 1 && (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)r;
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  int ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strstr(buf, msg);
  if (!ok)
    printf("child: status %d, stderr: %s\n", st, buf);
  return ok;
}

static void plain_free(void) { free(gm_gc_malloc(40)); }
static void double_free(void) {
  void *p = gm_gc_malloc(40);
  gm_gc_free(p);
  gm_gc_free(p);
}
static void free_malloc(void) { gm_gc_free(malloc(40)); }
static void free_interior(void) { gm_gc_free((char *)gm_gc_malloc(40) + 8); }

int main(void) {
  gm_gc_set_percent(50);
  grow_and_free(30000);
  gm_gc_collect();
  size_t bad = 0, live = 0;
  for (size_t i = 0; i < vlen; i++)
    if (vec[i]) {
      live++;
      bad += !node_ok(vec[i], i);
    }
  CHECK(bad == 0, "%zu of %zu kept nodes damaged", bad, live);
  CHECK(live >= 19999 && live <= 20001, "%zu nodes kept", live);
  CHECK(gm_gc_size(vec) >= vlen * sizeof *vec, "vector of %zu bytes", gm_gc_size(vec));

  void **holder = make_uncoll();
  gc_clear_stack();
  gm_gc_collect();
  churn(20000);
  gm_gc_collect();
  void **u = (void **)((uintptr_t)*holder ^ 0x5a5a5a5a5a5a5a5aULL);
  CHECK(gm_gc_base(u) == u, "the reallocated uncollectable block was collected");
  CHECK(gm_gc_base(u) == u && node_ok(u[0], 777), "its node was collected or damaged");
  gm_gc_free(u);
  free(holder);

  /* Large blocks. */
  char *big = gm_gc_malloc(200000);
  CHECK(big && gm_gc_size(big) >= 200000, "large block");
  size_t nz = 0;
  while (nz < 200000 && big[nz] == 0)
    nz++;
  CHECK(nz == 200000, "large block not zeroed at byte %zu", nz);
  memset(big, 'b', 200000);
  big = gm_gc_realloc(big, 1000000);
  CHECK(big[0] == 'b' && big[199999] == 'b', "large realloc lost the contents");
  big = gm_gc_realloc(big, 300000);
  CHECK(big[0] == 'b' && big[199999] == 'b', "large shrink lost the contents");
  char *small = gm_gc_realloc(big, 100);
  CHECK(small[0] == 'b' && small[99] == 'b', "large to small lost the contents");
  gm_gc_free(small);
  uint64_t before = gc_stats().heap_bytes;
  for (int i = 0; i < 50; i++)
    gc_drop(gm_gc_malloc_noscan(1 << 20)); /* 50 MiB of large garbage */
  gm_gc_collect();
  CHECK(gc_stats().heap_bytes < before + (8u << 20), "large garbage kept: %llu -> %llu bytes",
        (unsigned long long)before, (unsigned long long)gc_stats().heap_bytes);

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  /* (a sanitizer's own free rejects it first) */
  CHECK(dies_with(plain_free, "garbage-collected block"), "plain free of a collected block");
#else
  (void)plain_free;
#endif
  CHECK(dies_with(double_free, "already free"), "gm_gc_free twice");
  CHECK(dies_with(free_malloc, "not a garbage-collected block"), "gm_gc_free of malloc memory");
  CHECK(dies_with(free_interior, "interior pointer"), "gm_gc_free of an interior pointer");
  return check_summary();
}
