/* boehm_final.c: finalizers, disappearing links and the calls around them,
 * in a program written against Boehm GC's header and built unchanged (by
 * CMake against the build tree, and by check_pkgconfig.sh through
 * pkg-config). Built twice more: with -DGC_DEBUG (GC_MALLOC is then
 * GC_debug_malloc(size, GC_EXTRAS)) and -DUSE_GC_SUBDIR (<gc/gc.h>).
 *
 * A conservative collector may keep an object a stale stack word points
 * to, so the "is collected" checks run over many objects allocated in
 * frames that are gone and scrubbed, and ask for most of them; the checks
 * of what must not happen (a finalizer run twice, or for a reachable
 * object, or out of order; a link cleared too early) are strict. */
#define GC_THREADS
#ifdef USE_GC_SUBDIR
#include <gc/gc.h>
#else
#include <gc.h>
#endif

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;
#define EXPECT(c, ...)                                                                             \
  do {                                                                                             \
    if (c)                                                                                         \
      passed++;                                                                                    \
    else {                                                                                         \
      failed++;                                                                                    \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
    }                                                                                              \
  } while (0)

#define N 200
#define MOST(n) ((n) >= N * 8 / 10)

typedef struct Obj {
  struct Obj *next;
  int id, gen;
  long pad[5];
} Obj;

/* Each test is a generation: objects of an earlier test finalized late
 * (a stale word kept them a while) are not counted against this one. */
static int gen;

/* Per id: how many times its finalizer ran, and in which collection. */
static int runs[N];
static GC_word ran_at[N];
static int bad_obj, bad_cd;

static void GC_CALLBACK fin(void *obj, void *cd) {
  Obj *o = obj;
  if (o->gen != gen)
    return;
  if (GC_base(obj) != obj)
    bad_obj++;
  if ((size_t)cd != (size_t)o->id + 1000)
    bad_cd++;
  runs[o->id]++;
  ran_at[o->id] = GC_get_gc_no();
}

static void reset(void) {
  gen++;
  memset(runs, 0, sizeof runs);
  memset(ran_at, 0, sizeof ran_at);
}

static int count_runs(int lo, int hi, int *twice) {
  int n = 0;
  for (int i = lo; i < hi; i++) {
    n += runs[i] > 0;
    if (twice && runs[i] > 1)
      (*twice)++;
  }
  return n;
}

/* Overwrite the dead frames below the caller, where stale pointers are. */
static __attribute__((noinline)) void scrub(void) {
  volatile char buf[32768];
  memset((char *)buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

static void collect(int times) {
  for (int i = 0; i < times; i++) {
    scrub();
    GC_gcollect(); /* runs the queued finalizers (finalize_on_demand off) */
  }
}

static __attribute__((noinline)) Obj *new_obj(int id) {
  Obj *o = GC_NEW(Obj);
  o->id = id;
  o->gen = gen;
  GC_REGISTER_FINALIZER(o, fin, (void *)(size_t)(id + 1000), 0, 0);
  return o;
}

/* ---- the tests ---------------------------------------------------------- */

/* Not static: a static array only written would be optimised away. */
Obj *kept[10];

static __attribute__((noinline)) void make_unreachable(void) {
  for (int i = 0; i < N - 10; i++)
    new_obj(i);
  for (int i = 0; i < 10; i++)
    kept[i] = new_obj(N - 10 + i); /* ids N-10..N-1 stay reachable */
}

static void test_once(void) {
  reset();
  make_unreachable();
  collect(3);
  int twice = 0;
  int n = count_runs(0, N - 10, &twice);
  EXPECT(MOST(n * N / (N - 10)), "unreachable objects finalized: %d of %d", n, N - 10);
  EXPECT(twice == 0, "a finalizer ran twice (%d)", twice);
  EXPECT(count_runs(N - 10, N, NULL) == 0, "a reachable object was finalized");
  EXPECT(bad_obj == 0 && bad_cd == 0, "finalizer arguments: %d bad objects, %d bad data", bad_obj,
         bad_cd);
  /* Once finalized, an object is gone for good: nothing runs again. */
  collect(2);
  twice = 0;
  count_runs(0, N, &twice);
  EXPECT(twice == 0, "a finalizer ran again (%d)", twice);
  for (int i = 0; i < 10; i++)
    kept[i] = NULL;
}

/* A -> B, both finalizable: A first, B only in a later collection. */
static __attribute__((noinline)) void make_chains(void) {
  for (int i = 0; i < N / 2; i++) {
    Obj *a = new_obj(i), *b = new_obj(N / 2 + i);
    a->next = b;
  }
}

static void test_order(void) {
  reset();
  make_chains();
  collect(1);
  int early = 0;
  for (int i = 0; i < N / 2; i++)
    early += runs[N / 2 + i] > 0;
  EXPECT(early == 0, "%d objects finalized while a finalizable object reached them", early);
  collect(3);
  int order_bad = 0, b_done = 0;
  for (int i = 0; i < N / 2; i++)
    if (runs[N / 2 + i]) {
      b_done++;
      if (!runs[i] || ran_at[i] >= ran_at[N / 2 + i])
        order_bad++;
    }
  EXPECT(order_bad == 0, "%d finalizers ran before the one of an object reaching them", order_bad);
  EXPECT(MOST(2 * b_done), "the reached objects are finalized later: %d of %d", b_done, N / 2);
}

/* A <-> B: a cycle of finalizable objects is never finalized (Boehm). A
 * self-pointer counts too, unless registered with _ignore_self. */
static __attribute__((noinline)) void make_cycles(void) {
  for (int i = 0; i < N / 4; i++) {
    Obj *a = new_obj(i), *b = new_obj(N / 4 + i);
    a->next = b;
    b->next = a;
  }
  for (int i = N / 2; i < N / 2 + N / 4; i++) {
    Obj *o = new_obj(i);
    o->next = o; /* ordered: a cycle of one */
  }
  for (int i = N / 2 + N / 4; i < N; i++) {
    Obj *o = GC_NEW(Obj);
    o->id = i;
    o->gen = gen;
    o->next = o;
    GC_REGISTER_FINALIZER_IGNORE_SELF(o, fin, (void *)(size_t)(i + 1000), 0, 0);
  }
}

static void test_cycles(void) {
  reset();
  make_cycles();
  collect(3);
  EXPECT(count_runs(0, N / 2, NULL) == 0, "a cycle of finalizable objects was finalized");
  EXPECT(count_runs(N / 2, N / 2 + N / 4, NULL) == 0, "a self-referencing object was finalized");
  int n = count_runs(N / 2 + N / 4, N, NULL);
  EXPECT(MOST(4 * n), "_ignore_self objects finalized: %d of %d", n, N / 4);
}

/* _no_order: both ends of A -> B in the same collection. */
static __attribute__((noinline)) void make_no_order(void) {
  for (int i = 0; i < N / 2; i++) {
    Obj *a = GC_NEW(Obj), *b = GC_NEW(Obj);
    a->id = i;
    b->id = N / 2 + i;
    a->gen = b->gen = gen;
    a->next = b;
    GC_REGISTER_FINALIZER_NO_ORDER(a, fin, (void *)(size_t)(i + 1000), 0, 0);
    GC_REGISTER_FINALIZER_NO_ORDER(b, fin, (void *)(size_t)(N / 2 + i + 1000), 0, 0);
  }
}

static void test_no_order(void) {
  reset();
  make_no_order();
  collect(1);
  int both = 0;
  for (int i = 0; i < N / 2; i++)
    both += runs[i] && runs[N / 2 + i];
  EXPECT(MOST(2 * both), "_no_order pairs finalized together: %d of %d", both, N / 2);
}

/* Registration: old values back, NULL removes, GC_FREE forgets. */
static __attribute__((noinline)) void make_unregistered(void) {
  for (int i = 0; i < N / 2; i++) {
    Obj *o = new_obj(i);
    GC_finalization_proc ofn = 0;
    void *ocd = 0;
    GC_REGISTER_FINALIZER(o, 0, 0, &ofn, &ocd);
    if (ofn != fin || ocd != (void *)(size_t)(i + 1000))
      bad_cd++;
  }
  for (int i = N / 2; i < N; i++) {
    GC_FREE(new_obj(i));
    Obj *r = GC_NEW(Obj); /* no finalizer */
    r->id = i;
    r->gen = gen;
  }
  /* A large block goes back to the heap at once: the next one of its size
   * most likely takes its place, and must not inherit its finalizer. */
  for (int i = 0; i < 8; i++) {
    Obj *big = GC_MALLOC(100000);
    big->id = i;
    big->gen = gen;
    GC_REGISTER_FINALIZER(big, fin, (void *)(size_t)(i + 1000), 0, 0);
    GC_FREE(big);
    Obj *again = GC_MALLOC(100000);
    again->id = i;
    again->gen = gen;
  }
}

static void test_unregister(void) {
  reset();
  bad_cd = 0;
  make_unregistered();
  collect(2);
  EXPECT(bad_cd == 0, "GC_register_finalizer gave back the wrong old finalizer");
  EXPECT(count_runs(0, N, NULL) == 0, "a removed finalizer ran (or one of a freed object)");
}

/* Disappearing links. */
static void *links[N], *long_links[N], *reach_link;
static Obj *reach;

static __attribute__((noinline)) void make_linked(void) {
  for (int i = 0; i < N; i++) {
    Obj *o = GC_NEW(Obj);
    o->id = i;
    links[i] = o;
    EXPECT(GC_GENERAL_REGISTER_DISAPPEARING_LINK(&links[i], o) == GC_SUCCESS, "register");
  }
  reach = GC_NEW(Obj);
  reach_link = reach;
  GC_register_disappearing_link(&reach_link);
  /* Hide the pointers from the scan, as Boehm's users do. */
  for (int i = 0; i < N; i++)
    links[i] = (void *)GC_HIDE_POINTER(links[i]);
}

static void test_links(void) {
  make_linked();
  EXPECT(GC_general_register_disappearing_link(&links[0], GC_REVEAL_POINTER(links[0])) ==
             GC_DUPLICATE,
         "registering a link twice: GC_DUPLICATE");
  EXPECT(GC_unregister_disappearing_link(&links[1]) == 1, "unregister a link");
  EXPECT(GC_unregister_disappearing_link(&links[1]) == 0, "unregister it again");
  EXPECT(GC_move_disappearing_link(&links[2], &links[1]) == GC_SUCCESS, "move a link");
  EXPECT(GC_move_disappearing_link(&links[2], &links[3]) == GC_NOT_FOUND, "move a moved link");
  EXPECT(GC_move_disappearing_link(&links[1], &links[3]) == GC_DUPLICATE, "move onto a link");
  links[1] = links[2]; /* the moved link: object 2's, at its new place */
  void *unregistered = links[0] = (void *)1;
  GC_unregister_disappearing_link(&links[0]);
  collect(2);
  int cleared = 0;
  for (int i = 3; i < N; i++)
    cleared += links[i] == NULL;
  EXPECT(MOST(cleared), "links to unreachable objects cleared: %d of %d", cleared, N - 3);
  EXPECT(links[1] == NULL || links[1] == links[2], "the moved link is cleared at its new place");
  EXPECT(links[2] != NULL, "the link's old place is left alone");
  EXPECT(links[0] == unregistered, "an unregistered link is left alone");
  EXPECT(reach_link == reach, "a link to a reachable object is kept");
  EXPECT(GC_unregister_disappearing_link(&reach_link) == 1, "unregister the kept link");
}

/* Short and long links to an object with a finalizer: the short one is
 * cleared when the object is found unreachable, the long one only after
 * its finalizer ran and a later collection found it unreachable again. */
static __attribute__((noinline)) void make_final_linked(void) {
  for (int i = 0; i < N; i++) {
    Obj *o = new_obj(i);
    links[i] = o;
    long_links[i] = o;
    GC_GENERAL_REGISTER_DISAPPEARING_LINK(&links[i], o);
    GC_REGISTER_LONG_LINK(&long_links[i], o);
    links[i] = (void *)GC_HIDE_POINTER(links[i]);
    long_links[i] = (void *)GC_HIDE_POINTER(long_links[i]);
  }
}

static void test_long_links(void) {
  reset();
  make_final_linked();
  collect(1);
  int bad = 0, fin1 = 0;
  for (int i = 0; i < N; i++)
    if (runs[i]) {
      fin1++;
      if (links[i] != NULL || long_links[i] == NULL)
        bad++;
    }
  EXPECT(bad == 0, "%d objects finalized with the short link kept or the long one cleared", bad);
  EXPECT(MOST(fin1), "finalized in the first collection: %d of %d", fin1, N);
  collect(2);
  int cleared = 0;
  for (int i = 0; i < N; i++)
    cleared += runs[i] && long_links[i] == NULL;
  EXPECT(MOST(cleared), "long links cleared after the finalizer: %d of %d", cleared, N);
}

/* GC_finalize_on_demand: nothing runs until the program asks. */
static int notified;
static void GC_CALLBACK notifier(void) { notified++; }

static void test_on_demand(void) {
  reset();
  GC_set_finalize_on_demand(1);
  GC_set_finalizer_notifier(notifier);
  make_unreachable();
  collect(2);
  EXPECT(count_runs(0, N, NULL) == 0, "a finalizer ran without GC_invoke_finalizers");
  EXPECT(GC_should_invoke_finalizers(), "GC_should_invoke_finalizers");
  EXPECT(notified > 0, "the finalizer notifier was called");
  int n = GC_invoke_finalizers(), counted = count_runs(0, N, NULL);
  /* n may count late finalizers of earlier tests' objects too. */
  EXPECT(MOST(counted * N / (N - 10)) && n >= counted, "GC_invoke_finalizers ran %d (counted %d)",
         n, counted);
  EXPECT(!GC_should_invoke_finalizers(), "nothing left to invoke");
  GC_set_finalize_on_demand(0);
  for (int i = 0; i < 10; i++)
    kept[i] = NULL;
}

/* Without any GC_gcollect: collections started by allocation run the
 * queued finalizers at a later allocation, on the allocating thread. */
static __attribute__((noinline)) void churn(void) {
  for (int k = 0; k < 20000; k++) {
    Obj *o = GC_NEW(Obj);
    o->id = k % N;
    o->gen = gen;
    if (k % 100 == 0)
      GC_REGISTER_FINALIZER(o, fin, (void *)(size_t)(o->id + 1000), 0, 0);
    char *garbage = GC_MALLOC_ATOMIC(2000);
    garbage[0] = 1;
  }
}

static void test_automatic(void) {
  reset();
  GC_word before = GC_gc_no;
  churn();
  EXPECT(GC_gc_no > before, "GC_gc_no (a variable) follows automatic collections");
  EXPECT(count_runs(0, N, NULL) > 0, "finalizers ran from allocation");
}

static __attribute__((noinline)) int same(void *a, void *b) {
  __asm__ volatile("" : "+r"(a), "+r"(b));
  return a == b;
}
static volatile size_t oom_asked; /* volatile: a __malloc__ call is assumed to write nothing */
static char *oom_buf_p;
static void *GC_CALLBACK oom(size_t n) {
  oom_asked = n;
  return oom_buf_p;
}
static void *GC_CALLBACK oom_null(size_t n) {
  (void)n;
  return NULL;
}

/* GC_base and GC_size of interior pointers. */
static void test_base(void) {
  char *p = GC_MALLOC(100);
  EXPECT(GC_base(p + 57) == p && GC_base(p) == p, "GC_base of an interior pointer");
  EXPECT(GC_size(p + 57) >= 100 && GC_size(p) == GC_size(p + 99), "GC_size of an interior pointer");
  char *big = GC_MALLOC_ATOMIC(1 << 20);
  EXPECT(GC_base(big + 12345) == big && GC_size(big + 5) >= (1 << 20), "large block");
  static char not_heap[16];
  EXPECT(GC_base(not_heap) == NULL, "GC_base of a static");
  EXPECT(GC_is_heap_ptr(p + 3) && !GC_is_heap_ptr(not_heap), "GC_is_heap_ptr");
  char *d = GC_STRDUP("gomalloc");
  EXPECT(d && strcmp(d, "gomalloc") == 0 && GC_base(d) == d, "GC_STRDUP");
  void *u = GC_MALLOC_ATOMIC_UNCOLLECTABLE(64);
  EXPECT(u && GC_base(u) == u, "GC_MALLOC_ATOMIC_UNCOLLECTABLE");
  GC_FREE(u);
  void *a = GC_memalign(256, 1000);
  EXPECT(a && ((size_t)a & 255) == 0 && GC_base(a) != NULL, "GC_memalign");
  /* A failed allocation returns what GC_oom_fn gives. */
  static char oom_buf[16];
  oom_buf_p = oom_buf;
  GC_set_oom_fn(oom);
  /* Compared out of line: GC_malloc is declared __malloc__, so the
   * compiler may assume its result equals no other pointer. */
  void *r = GC_MALLOC((size_t)-1 / 2);
  EXPECT(same(r, oom_buf) && oom_asked == (size_t)-1 / 2, "GC_set_oom_fn");
  GC_set_oom_fn(oom_null);
  EXPECT(GC_MALLOC((size_t)-1 / 2) == NULL, "no memory: NULL");
}

/* 8-byte objects: a new one, zeroed after a collection, must not clear
 * its live neighbour (nor write past its span's end). */
GC_word *small_kept[5000];

static __attribute__((noinline)) void make_small(void) {
  for (int i = 0; i < 10000; i++) {
    GC_word *p = GC_MALLOC(sizeof(GC_word));
    *p = ~(GC_word)i;
    if (i % 2)
      small_kept[i / 2] = p;
  }
}

static void test_small(void) {
  make_small();
  collect(1);
  for (int i = 0; i < 20000; i++) {
    GC_word *p = GC_MALLOC(sizeof(GC_word));
    *p = 1;
  }
  int bad = 0;
  for (int i = 0; i < 5000; i++)
    bad += *small_kept[i] != ~(GC_word)(2 * i + 1);
  EXPECT(bad == 0, "%d live 8-byte objects were overwritten by new neighbours", bad);
}

/* GC_THREADS: a thread made with pthread_create (GC_pthread_create)
 * registers finalizers and links; the main thread collects. */
static void *thread_main(void *arg) {
  (void)arg;
  make_unreachable();
  GC_gcollect();
  return NULL;
}

static void test_threads(void) {
  reset();
  pthread_t t;
  EXPECT(pthread_create(&t, NULL, thread_main, NULL) == 0, "pthread_create");
  pthread_join(t, NULL);
  collect(2);
  int twice = 0;
  int n = count_runs(0, N - 10, &twice);
  EXPECT(MOST(n * N / (N - 10)) && twice == 0, "finalizers of a thread's objects: %d", n);
  for (int i = 0; i < 10; i++)
    kept[i] = NULL;
}

int main(void) {
  GC_INIT();
  EXPECT(GC_get_version() >> 16 == 8, "GC_get_version");
  test_base();
  test_small();
  test_once();
  test_order();
  test_cycles();
  test_no_order();
  test_unregister();
  test_links();
  test_long_links();
  test_on_demand();
  test_automatic();
  test_threads();
#ifdef GC_DEBUG
  printf("(GC_DEBUG build) ");
#endif
  printf("collections %lu\n", (unsigned long)GC_gc_no);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
