/* test_parmark.c: parallel marking (run with GOMALLOC_GC_MARKERS=2 and 4,
 * set by CMake, whatever the CPU count). Threads allocate while
 * collections run and link their structures across threads:
 *   - each thread's table, a large scanned block of pointers to its small
 *     nodes in shuffled order: the large block is scanned in pieces that
 *     several markers take, and the nodes of one mark word are reached
 *     from different pieces, so markers set bits of the same words at
 *     once (a plain OR would lose some: the atomic mark's test);
 *   - each node also points to a node of another thread's table, which
 *     it alone may keep alive once that table is replaced;
 *   - a chain of CHAIN nodes ending in a tree, reachable only through its
 *     head: one marker walks it while the others go idle, and the tree at
 *     its end is shared out again (the end of the mark waits for it: the
 *     termination's test).
 * Each node carries the tag its referrer expects: a node freed while
 * reachable and handed out again shows. The helper threads are counted
 * in /proc/self/task (named gm-gc-mark). Debug builds also check the
 * mark's closure after every mark (gcmark.c). */
#include "gc_test.h"

#include <dirent.h>
#include <pthread.h>
#include <unistd.h>

#define NTHREADS 4
#define ROUNDS 24
#define NODES 16384
#define CHAIN 60000
#define TREE_DEPTH 13

typedef struct node {
  struct node *a, *b;
  uint64_t tag, atag; /* own tag; the tag a must have */
} node_t;

static node_t **tables[NTHREADS];
static node_t *chain;
static long bad;

static uint64_t tag_of(int id, int round, int j) {
  return (uint64_t)(id + 1) << 48 | (uint64_t)round << 24 | (uint64_t)j;
}

static node_t *tree(int depth, uint64_t tag) {
  node_t *n = gm_gc_malloc(sizeof *n);
  if (!n)
    abort();
  n->tag = tag;
  if (depth > 0) {
    n->a = tree(depth - 1, tag + 1);
    n->atag = tag + 1;
    n->b = tree(depth - 1, tag + 1);
  }
  return n;
}

/* Nodes of a tree built by tree(depth, tag), or -1 if one is wrong. */
static long tree_check(const node_t *n, int depth, uint64_t tag) {
  if (!n || n->tag != tag)
    return -1;
  if (depth == 0)
    return 1;
  long l = tree_check(n->a, depth - 1, tag + 1), r = tree_check(n->b, depth - 1, tag + 1);
  return l < 0 || r < 0 ? -1 : 1 + l + r;
}

static void build_chain(void) {
  node_t *end = gm_gc_malloc(sizeof *end);
  end->tag = CHAIN;
  end->a = tree(TREE_DEPTH, 1000000);
  end->atag = 1000000;
  node_t *head = end;
  for (long i = CHAIN - 1; i >= 0; i--) {
    node_t *n = gm_gc_malloc(sizeof *n);
    n->tag = (uint64_t)i;
    n->b = head;
    head = n;
  }
  chain = head;
}

static long chain_check(void) {
  const node_t *n = chain;
  for (long i = 0; i < CHAIN; i++, n = n->b)
    if (!n || n->tag != (uint64_t)i)
      return 1;
  if (!n || n->tag != CHAIN || tree_check(n->a, TREE_DEPTH, 1000000) != (1L << (TREE_DEPTH + 1)) - 1)
    return 1;
  return 0;
}

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A new table: NODES nodes, in shuffled order, each linked to a node of
 * another thread's current table. */
static __attribute__((noinline)) node_t **new_table(int id, int round, uint64_t *seed) {
  node_t **t = gm_gc_malloc(NODES * sizeof *t);
  if (!t)
    abort();
  for (int j = 0; j < NODES; j++) {
    t[j] = gm_gc_malloc(sizeof(node_t));
    if (!t[j])
      abort();
    t[j]->tag = tag_of(id, round, j);
  }
  for (int j = NODES - 1; j > 0; j--) {
    int k = (int)(rnd(seed) % (uint64_t)(j + 1));
    node_t *x = t[j];
    t[j] = t[k];
    t[k] = x;
  }
  node_t **other = __atomic_load_n(&tables[(id + 1 + round % (NTHREADS - 1)) % NTHREADS],
                                   __ATOMIC_ACQUIRE);
  for (int j = 0; j < NODES && other; j++) {
    node_t *o = other[rnd(seed) % NODES];
    t[j]->a = o;
    t[j]->atag = o->tag;
  }
  return t;
}

static long table_check(node_t **t, int id, int round) {
  long errs = 0;
  uint64_t seen = 0;
  for (int j = 0; j < NODES; j++) {
    node_t *n = t[j];
    uint64_t tag = n->tag;
    if (tag >> 48 != (uint64_t)(id + 1) || (tag >> 24 & 0xffffff) != (uint64_t)round) {
      errs++;
      continue;
    }
    seen += tag & 0xffffff;
    if (n->a && n->a->tag != n->atag)
      errs++;
  }
  return errs + (seen != (uint64_t)NODES * (NODES - 1) / 2);
}

static __attribute__((noinline)) void garbage(uint64_t *seed) {
  for (int i = 0; i < 4000; i++)
    gc_drop(gm_gc_malloc(16 + rnd(seed) % 200));
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1);
  node_t **prev = NULL;
  for (int r = 0; r < ROUNDS; r++) {
    node_t **t = new_table(id, r, &seed);
    __atomic_store_n(&tables[id], t, __ATOMIC_RELEASE);
    garbage(&seed);
    if (r % 3 == id % 3)
      gm_gc_collect();
    garbage(&seed); /* reuses what the collection freed */
    long e = table_check(t, id, r) + (prev ? table_check(prev, id, r - 1) : 0);
    if (e)
      __atomic_fetch_add(&bad, e, __ATOMIC_RELAXED);
    prev = t;
  }
  return NULL;
}

static int count_markers(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    if (fgets(comm, sizeof comm, f) && strncmp(comm, "gm-gc-mark", 10) == 0)
      n++;
    fclose(f);
  }
  if (d)
    closedir(d);
  return n;
}

int main(void) {
  const char *env = getenv("GOMALLOC_GC_MARKERS");
  int want = env ? atoi(env) : 0;
  build_chain();
  gm_gc_collect();
  if (want > 0)
    CHECK(count_markers() == want - 1, "%d helper markers running, GOMALLOC_GC_MARKERS=%d",
          count_markers(), want);
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
  for (int round = 0; round < 8; round++) {
    gm_gc_collect();
    CHECK(chain_check() == 0, "the chain or the tree at its end was collected (round %d)", round);
  }
  for (int i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  gm_gc_collect();
  CHECK(chain_check() == 0, "the chain or the tree at its end was collected");
  for (int i = 0; i < NTHREADS; i++)
    CHECK(table_check(tables[i], i, ROUNDS - 1) == 0, "table %d corrupted at the end", i);
  CHECK(bad == 0, "%ld nodes of live tables were collected and reused", bad);
  struct gm_gc_stats st = gc_stats();
  CHECK(st.collections >= 10, "only %llu collections", (unsigned long long)st.collections);
  CHECK(st.heap_bytes < (size_t)256 << 20, "heap of %llu bytes",
        (unsigned long long)st.heap_bytes);
  printf("markers %d, collections %llu, heap %llu KiB, max pause %.3f ms, freed %llu\n",
         count_markers() + 1, (unsigned long long)st.collections,
         (unsigned long long)st.heap_bytes >> 10, st.max_pause_ns / 1e6,
         (unsigned long long)st.freed_objects);
  return check_summary();
}
