/* test_threads.c: several threads allocate, build lists and link them
 * across threads while collections run (started by the allocation path of
 * any thread, each stopping all the others). Each thread publishes a fresh
 * list in a shared mailbox (a global array) and takes over another
 * thread's, whose every node it checks (values and a pattern) and extends
 * with nodes of its own. Short-lived garbage keeps the collector busy; a
 * thread also sleeps now and then (a system call the stop signal must
 * interrupt). At the end every mailbox list is checked again, the heap
 * must be bounded and many collections must have run. */
#include "gc_test.h"

#include <pthread.h>
#include <time.h>

#define NTHREADS 4
#define ROUNDS 2000
#define LEN 200

typedef struct node {
  struct node *next;
  uint64_t owner_round; /* thread << 32 | round */
  uint64_t check;       /* ~owner_round */
  char pad[40];         /* noscan-sized filler, pattern 'p' */
} node_t;

static node_t *mailbox[NTHREADS];
static pthread_mutex_t mbox_lock = PTHREAD_MUTEX_INITIALIZER;
static long bad_nodes;

/* Under TSan a thread waiting in pthread_mutex_lock never runs the stop
 * signal's handler (TSan runs it at a call it counts as blocking, and a
 * mutex wait is not one): with the holder stopped, the collection waited
 * for ever. There the wait is gm_gc_lock's (gcalloc.c): trylock, sleep. */
static void mbox_acquire(void) {
#if defined(__SANITIZE_THREAD__)
  struct timespec ts = {0, 20000};
  while (pthread_mutex_trylock(&mbox_lock) != 0)
    nanosleep(&ts, NULL);
#else
  pthread_mutex_lock(&mbox_lock);
#endif
}

static node_t *build(uint64_t tag, int len) {
  node_t *head = NULL;
  for (int i = 0; i < len; i++) {
    node_t *n = gm_gc_malloc(sizeof *n);
    if (!n)
      return head;
    n->owner_round = tag;
    n->check = ~tag;
    memset(n->pad, 'p', sizeof n->pad);
    n->next = head;
    head = n;
  }
  return head;
}

static __attribute__((noinline)) void garbage(int len) {
  node_t *head = NULL;
  for (int i = 0; i < len; i++) {
    node_t *n = gm_gc_malloc(sizeof *n);
    if (!n)
      return;
    n->owner_round = n->check = 0x6767676767676767ULL;
    memset(n->pad, 'g', sizeof n->pad);
    n->next = head;
    head = n;
  }
}

/* A list of LEN nodes tagged tag (and perhaps 5 more appended by the
 * thread that took it): any other node, or a shorter list, means a node
 * was freed while still reachable and handed out again. */
static long verify(const node_t *n, uint64_t tag) {
  long len = 0;
  for (; n && len < LEN; n = n->next, len++)
    if (n->owner_round != tag || n->check != ~tag || n->pad[0] != 'p' || n->pad[39] != 'p')
      return 1; /* its next may be anything */
  return len == LEN ? 0 : 1;
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  struct timespec ts = {0, 50000};
  for (int r = 0; r < ROUNDS; r++) {
    node_t *mine = build((uint64_t)id << 32 | (uint64_t)r, LEN);
    mbox_acquire();
    int other = (id + 1 + r % (NTHREADS - 1)) % NTHREADS;
    node_t *theirs = mailbox[other];
    mailbox[other] = NULL;
    mailbox[id] = mine;
    pthread_mutex_unlock(&mbox_lock);
    uint64_t tag = theirs ? theirs->owner_round : 0;
    long bad = theirs ? verify(theirs, tag) : 0;
    if (bad)
      __atomic_fetch_add(&bad_nodes, bad, __ATOMIC_RELAXED);
    /* extend theirs with a few of ours and keep it on the stack a while */
    if (theirs) {
      node_t *tail = theirs;
      int len = 0;
      while (tail->next && len++ < 1000)
        tail = tail->next;
      tail->next = build((uint64_t)id << 32 | 0xffffffffu, 5);
    }
    /* Garbage while theirs lives only here: lists whose nodes fail the
     * check (a node of theirs freed and reused shows), and noscan
     * buffers; the collections it starts stop the other threads, and
     * theirs start while this one sleeps. */
    for (int g = 0; g < 2; g++)
      garbage(LEN);
    for (int i = 0; i < 20; i++) {
      char *b = gm_gc_malloc_noscan(100 + 37 * i);
      if (b)
        memset(b, 'g', 100);
    }
    if (r % 4 == 0)
      nanosleep(&ts, NULL);
    bad = theirs ? verify(theirs, tag) : 0;
    if (bad)
      __atomic_fetch_add(&bad_nodes, bad, __ATOMIC_RELAXED);
  }
  return NULL;
}

int main(void) {
  pthread_t th[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < NTHREADS; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < NTHREADS; i++)
    CHECK(!mailbox[i] || verify(mailbox[i], mailbox[i]->owner_round) == 0,
          "mailbox %d corrupted at the end", i);
  CHECK(bad_nodes == 0, "%ld lists held by threads were corrupted (collected)", bad_nodes);
  struct gm_gc_stats st = gc_stats();
  CHECK(st.collections >= 5, "only %llu collections", (unsigned long long)st.collections);
  CHECK(st.heap_bytes < (size_t)64 << 20, "heap of %llu bytes", (unsigned long long)st.heap_bytes);
  CHECK(st.threads <= 1, "%llu threads still registered after the workers exited",
        (unsigned long long)st.threads);
  printf("collections %llu, heap %llu KiB, max pause %.3f ms, freed %llu\n",
         (unsigned long long)st.collections, (unsigned long long)st.heap_bytes >> 10,
         st.max_pause_ns / 1e6, (unsigned long long)st.freed_objects);
  return check_summary();
}
