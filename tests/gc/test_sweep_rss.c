/* test_sweep_rss.c: after a big garbage phase, the memory comes back even
 * when the program stops allocating collected blocks. The sweep runs after
 * the pause (gcsweep.c): a collection started by an allocation of one
 * class leaves the other classes' spans unswept, and if nothing allocates
 * them again, only the background thread's sweep (Go's bgsweep) gives
 * their pages back to the heap, whence the scavenger returns them to the
 * OS. Polls for up to 20 s (it takes about a second). */
#include "gc_test.h"

#include <time.h>
#include <unistd.h>

enum { NODE = 64, BIG_MIB = 64 };

/* Under a sanitizer RSS says little (shadow memory): the spans alone. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHECK_RSS 0
#else
#define CHECK_RSS 1
#endif

typedef struct node {
  struct node *next;
} node_t;
static node_t *volatile list;

static long rss_kib(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return -1;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
    rss = -1;
  fclose(f);
  return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static __attribute__((noinline)) void build(void) {
  node_t *head = NULL;
  for (size_t i = 0; i < ((size_t)BIG_MIB << 20) / NODE; i++) {
    node_t *n = gm_gc_malloc(NODE);
    n->next = head;
    head = n;
  }
  list = head;
}

/* Blocks of another class until an allocation starts a collection. */
static __attribute__((noinline)) int trigger(void) {
  uint64_t c0 = gc_stats().collections;
  for (int i = 0; i < (1 << 20); i++) {
    gc_drop(gm_gc_malloc(1000));
    if (gc_stats().collections != c0)
      return 1;
  }
  return 0;
}

int main(void) {
  gm_gc_collect();
  long rss0 = rss_kib();
  gm_gc_set_percent(-1); /* no collection while the list grows */
  build();
  gc_clear_stack();
  long rss1 = rss_kib();
  gm_gc_set_percent(100);
  list = NULL;
  CHECK(trigger(), "no collection started");
  gc_clear_stack();
  struct gm_gc_stats st = gc_stats();
  CHECK(st.unswept_spans > 1000, "only %llu spans left unswept by the collection",
        (unsigned long long)st.unswept_spans);
  /* Nothing allocates collected blocks from here on. */
  long rss = rss1;
  int i;
  for (i = 0; i < 200; i++) {
    st = gc_stats();
    rss = rss_kib();
    if (st.unswept_spans == 0 && st.heap_bytes < (16u << 20) &&
        (!CHECK_RSS || rss < rss0 + (BIG_MIB / 4) * 1024))
      break;
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
  }
  CHECK(st.unswept_spans == 0, "%llu spans still unswept after 20 s",
        (unsigned long long)st.unswept_spans);
  CHECK(st.heap_bytes < (16u << 20), "the collected heap still holds %llu bytes",
        (unsigned long long)st.heap_bytes);
  CHECK(!CHECK_RSS || rss < rss0 + (BIG_MIB / 4) * 1024,
        "RSS %ld KiB -> %ld KiB -> %ld KiB after 20 s", rss0, rss1, rss);
  printf("RSS %ld KiB -> %ld KiB -> %ld KiB after %.1f s\n", rss0, rss1, rss, i / 10.0);
  return check_summary();
}
