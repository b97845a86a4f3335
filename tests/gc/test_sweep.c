/* test_sweep.c: the sweep runs after the pause (gcsweep.c). A collection
 * started by an allocation sweeps only the allocating class before it
 * returns; the other spans stay unswept until used, touched or the next
 * cycle. These tests build such a heap (gm_gc_stats says how many spans
 * are unswept) and then:
 *   readers   gm_gc_base (interior pointers), gm_gc_size, gm_gc_realloc
 *             and gm_gc_free of blocks in unswept spans, small and large;
 *   next      a collection starting before the last sweep finished must
 *             finish it first (Go's finishsweep_m): the marks left in
 *             unswept spans would otherwise stop the mark there;
 *   fork      a child inherits unswept spans and goes on sweeping them. */
#include "gc_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aULL) /* hides a pointer from the mark */
enum { SA = 48, SB = 1000, SC = 80, SP = 16, NA = 4000, NC = 3000, BIG = 100000 };

static void *kept[NA / 2];
static uintptr_t hidden[NA / 2];
static void *big_live;
static uintptr_t big_dead;

static __attribute__((noinline)) void make_blocks(void) {
  for (int i = 0; i < NA; i++) {
    unsigned char *p = gm_gc_malloc(SA);
    memset(p, i & 0xff, SA);
    if (i % 2)
      kept[i / 2] = p;
    else
      hidden[i / 2] = (uintptr_t)p ^ MASK;
  }
  big_live = gm_gc_malloc(BIG);
  memset(big_live, 0x77, BIG);
  big_dead = (uintptr_t)gm_gc_malloc(BIG) ^ MASK;
}

/* Class-SB garbage until an allocation starts a collection: that thread
 * then sweeps class SB alone, and the others stay unswept. */
static __attribute__((noinline)) int trigger(void) {
  uint64_t c0 = gc_stats().collections;
  for (int i = 0; i < (1 << 20); i++) {
    gc_drop(gm_gc_malloc(SB));
    if (gc_stats().collections != c0)
      return 1;
  }
  return 0;
}

static int pattern_ok(const unsigned char *p, unsigned char v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v)
      return 0;
  return 1;
}

/* The readers, on a heap where trigger() just ran. */
static void readers(const char *who) {
  struct gm_gc_stats st = gc_stats();
  CHECK(st.unswept_spans >= 10, "%s: only %llu unswept spans after an allocation's collection", who,
        (unsigned long long)st.unswept_spans);
  int found = 0;
  for (int i = 0; i < NA / 2; i++)
    found += gm_gc_base((char *)(hidden[i] ^ MASK) + 5) != NULL;
  /* A few may be kept by a stale word somewhere (conservative roots: one
   * under ThreadSanitizer); an unswept span's stale bits would keep all. */
  CHECK(found < NA / 40, "%s: gm_gc_base found %d of %d collected blocks in unswept spans", who,
        found, NA / 2);
  CHECK(gm_gc_base((char *)(big_dead ^ MASK) + 100) == NULL,
        "%s: gm_gc_base found a collected large block", who);
  int bad = 0;
  for (int i = 0; i < NA / 2; i++) {
    unsigned char *p = kept[i], v = (unsigned char)((2 * i + 1) & 0xff);
    bad += gm_gc_base(p + 7) != p || gm_gc_size(p) < SA || !pattern_ok(p, v, SA);
  }
  CHECK(bad == 0, "%s: %d live blocks in unswept spans misreported", who, bad);
  /* realloc in place and moving, then free, of blocks in unswept spans. */
  for (int i = 0; i < NA / 2; i += 2) {
    unsigned char v = (unsigned char)((2 * i + 1) & 0xff);
    unsigned char *q = gm_gc_realloc(kept[i], i % 4 ? SA - 8 : 4 * SA);
    bad += !q || !pattern_ok(q, v, SA - 8);
    kept[i] = q;
  }
  for (int i = 1; i < NA / 2; i += 2) {
    gm_gc_free(kept[i]);
    kept[i] = NULL;
  }
  CHECK(bad == 0, "%s: %d blocks of unswept spans damaged by realloc", who, bad);
  CHECK(pattern_ok(big_live, 0x77, BIG), "%s: a live large block was damaged", who);
  gm_gc_free(big_live); /* on the unswept large list */
  big_live = NULL;
  gm_gc_collect();
  st = gc_stats();
  CHECK(st.unswept_spans == 0, "%s: %llu spans unswept after gm_gc_collect", who,
        (unsigned long long)st.unswept_spans);
  for (int i = 0; i < NA / 2; i += 2)
    bad += !pattern_ok(kept[i], (unsigned char)((2 * i + 1) & 0xff), SA - 8);
  CHECK(bad == 0, "%s: %d reallocated blocks damaged by the next collection", who, bad);
}

/* next: list nodes (class SC) hold payloads (class SP). After trigger(),
 * the nodes' spans are unswept with the last marks still set, while the
 * payloads' span the thread caches was swept in the pause: a mark that
 * took the set bits for this cycle's would not scan the nodes, and the
 * sweep would free the payloads there. */
typedef struct node {
  struct node *next;
  unsigned char *payload;
  int v;
} node_t;
static node_t *list;

static __attribute__((noinline)) void make_list(void) {
  for (int i = 0; i < NC; i++) {
    node_t *n = gm_gc_malloc(SC);
    n->payload = gm_gc_malloc(SP);
    memset(n->payload, i & 0xff, SP);
    n->v = i;
    n->next = list;
    list = n;
  }
}

static __attribute__((noinline)) void churn(void) {
  for (int i = 0; i < 20000; i++)
    memset(gm_gc_malloc(SP), 0xee, SP);
}

static void next_cycle(void) {
  make_list();
  gc_clear_stack();
  CHECK(trigger(), "no collection started");
  CHECK(gc_stats().unswept_spans > 0, "nothing left unswept");
  gm_gc_collect(); /* must sweep the list's spans before it marks */
  churn();         /* reuses whatever that collection freed */
  gc_clear_stack();
  int bad = 0, n = 0;
  for (node_t *p = list; p; p = p->next, n++)
    bad += !pattern_ok(p->payload, (unsigned char)(p->v & 0xff), SP);
  CHECK(n == NC && bad == 0, "%d of %d payloads reused: the mark stopped at unswept spans", bad, n);
}

int main(void) {
  gm_gc_collect();
  make_blocks();
  gc_clear_stack();
  CHECK(trigger(), "no collection started");
  gc_clear_stack();
  pid_t pid = fork();
  if (pid == 0) {
    check_reset();
    alarm(30);
    readers("child");
    _exit(check_summary() == 0 ? 0 : 1);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's checks failed (status %d)",
        status);
  readers("parent");
  next_cycle();
  return check_summary();
}
