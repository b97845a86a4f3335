/* test_realloc.c: gm_gc_realloc and gm_gc_free mixed with collections.
 *   - a vector of node pointers grown one element at a time with
 *     gm_gc_realloc (small, then large blocks) while nodes are allocated
 *     and every third one is freed with gm_gc_free; collections run from
 *     the allocation path all along; every kept node keeps its pattern;
 *   - realloc keeps the kind: an uncollectable block reallocated is still
 *     never collected (its only pointer in malloc memory), and its
 *     contents, which point at a node, still keep that node;
 *   - large blocks: allocated, grown, shrunk, freed, collected;
 *   - finalizers and disappearing links across a realloc that moves the
 *     block, as Boehm 8.2's GC_realloc (which frees the old block): the new
 *     block has no finalizer, the old one's never runs, a link to the old
 *     block is cleared by the next collection and one held in it is
 *     forgotten, even when a new large block takes the old one's pages
 *     at once (it got the finalizer, its link was never cleared, and the
 *     link held in the old block was written into it);
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

/* ---- finalizers and links across a moving realloc -------------------------- */

static int fin_runs;
static void count_fin(void *obj, void *arg) {
  (void)obj;
  (void)arg;
  fin_runs++;
}

static gm_gc_finalizer_fn finalizer_of(void *p) {
  gm_gc_finalizer_fn fn = NULL;
  void *arg = NULL;
  if (gm_gc_set_finalizer(p, NULL, NULL, 0, &fn, &arg) != 0)
    return NULL;
  if (fn) /* put back */
    gm_gc_set_finalizer(p, fn, arg, GM_GC_FINAL_NO_ORDER, NULL, NULL);
  return fn;
}

#define BIG 100000
void *volatile reuse[16]; /* a root: data */

/* A block with a finalizer, a link to it (*to, in malloc memory: not a
 * root) and a link held in its first word to a block that dies; moved by
 * gm_gc_realloc. Returns the new block; *old_enc is the old address, hidden. */
static __attribute__((noinline)) void *linked_then_moved(size_t size, void **to,
                                                         uintptr_t *old_enc) {
  void **p = gm_gc_malloc(size);
  gm_gc_set_finalizer(p, count_fin, NULL, GM_GC_FINAL_NO_ORDER, NULL, NULL);
  *to = p;
  gm_gc_register_link(to, p, 0);
  p[0] = gm_gc_malloc(32); /* only p points to it */
  gm_gc_register_link(&p[0], p[0], 0);
  void *q = gm_gc_realloc(p, 3 * size + 4096);
  *old_enc = (uintptr_t)p ^ 0x5a5a5a5a5a5a5a5aULL;
  return q;
}

static void realloc_final(void) {
  uintptr_t old_enc;
  void **to = malloc(sizeof *to);
  void *q = linked_then_moved(BIG, to, &old_enc);
  char *old = (char *)(old_enc ^ 0x5a5a5a5a5a5a5a5aULL);
  CHECK(q != old, "a large realloc to 3x its size did not move the block");
  CHECK(finalizer_of(q) == NULL, "the moved block has a finalizer");
  /* New large blocks of the old size: the heap hands out the old pages. */
  char *r = NULL;
  for (int i = 0; i < 16 && r != old; i++) {
    reuse[i] = r = gm_gc_malloc(BIG);
    memset(r, 0xCC, BIG);
  }
  if (r == old)
    CHECK(finalizer_of(r) == NULL, "a new block at the moved block's address has its finalizer");
  else
    printf("(no new block took the moved block's pages: a weaker test)\n");
  gc_clear_stack();
  gm_gc_collect();
  CHECK(*to == NULL, "a link to the moved-away block survived a collection");
  if (r == old)
    CHECK(((unsigned char *)r)[0] == 0xCC && ((unsigned char *)r)[7] == 0xCC,
          "a link held in the moved-away block was cleared in the new block at its address");
  gm_gc_run_finalizers();
  CHECK(fin_runs == 0, "the moved-away block's finalizer ran %d times", fin_runs);
  for (int i = 0; i < 16; i++)
    reuse[i] = NULL;

  /* A small block, moved to a bigger class: the same, and in place the
   * finalizer stays (the same object). */
  q = linked_then_moved(48, to, &old_enc);
  CHECK(finalizer_of(q) == NULL, "the moved small block has a finalizer");
  gc_clear_stack();
  gm_gc_collect();
  CHECK(*to == NULL, "a link to the moved-away small block survived a collection");
  gm_gc_run_finalizers();
  CHECK(fin_runs == 0, "the moved-away small block's finalizer ran %d times", fin_runs);
  void *s = gm_gc_malloc(40);
  gm_gc_set_finalizer(s, count_fin, NULL, GM_GC_FINAL_NO_ORDER, NULL, NULL);
  CHECK(gm_gc_realloc(s, 44) == s && finalizer_of(s) == count_fin,
        "a realloc in place lost the finalizer");
  gm_gc_set_finalizer(s, NULL, NULL, 0, NULL, NULL);
  free(to);
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

  realloc_final();

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
