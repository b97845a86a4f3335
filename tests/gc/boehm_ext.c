/* boehm_ext.c: the Boehm calls of compat/gc_boehm_ext.c, in a program
 * written against Boehm GC's headers and built unchanged (by CMake and by
 * check_pkgconfig.sh): gc_disclaim.h (GC_finalized_malloc, disclaim
 * procedures on a custom kind), custom kinds (scanned, pointer-free, or
 * marked by a mark procedure reaching memory outside the heap),
 * the mark bits a weak table's disclaim procedure reads, toggle-refs,
 * GC_exclude_static_roots, the stop signal (GC_set_suspend_signal,
 * GC_pthread_sigmask), GC_wcsdup.
 *
 * As in boehm_final.c, "is collected" checks run over many objects made in
 * frames that are gone and scrubbed and ask for most of them; what must
 * not happen (a procedure run twice, early, or for a reachable object) is
 * checked strictly. */
#define _GNU_SOURCE
#define GC_THREADS
#define GC_REQUIRE_WCSDUP
#include <gc.h>
#include <gc_disclaim.h>
#include <gc_inline.h>
#include <gc_mark.h>
#include <private/gc_atomic_ops.h> /* ours: the AO_ calls bdwgc's tests use */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

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
#define MOST(n, of) ((n) >= (of)*8 / 10)

typedef struct Obj {
  struct Obj *next;
  int id, gen;
  char magic[8];
  long pad[3];
} Obj;

static int gen;
static int runs[N], early[N];

static __attribute__((noinline)) void scrub(void) {
  volatile char buf[32768];
  memset((char *)buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}

static void collect(int times) {
  for (int i = 0; i < times; i++) {
    scrub();
    GC_gcollect();
  }
}

static void reset(void) {
  gen++;
  memset(runs, 0, sizeof runs);
  memset(early, 0, sizeof early);
}

static int count(int lo, int hi, int want) {
  int n = 0;
  for (int i = lo; i < hi; i++)
    n += want < 0 ? runs[i] > 1 : runs[i] == want;
  return n;
}

/* ---- GC_finalized_malloc ----------------------------------------------- */

static int cd_word;
static void GC_CALLBACK obj_fin(void *p, void *cd) {
  Obj *o = p;
  if (o->gen != gen || cd != &cd_word)
    return;
  /* What it reaches is intact: not yet finalized. */
  if (memcmp(o->magic, "objmagi", 8) != 0 || (o->next && memcmp(o->next->magic, "objmagi", 8)))
    early[o->id]++;
  memcpy(o->magic, "finaliz", 8);
  runs[o->id]++;
}
static const struct GC_finalizer_closure obj_fc = {obj_fin, &cd_word};

static __attribute__((noinline)) Obj *fobj(int id) {
  Obj *o = GC_finalized_malloc(sizeof *o, &obj_fc);
  o->id = id;
  o->gen = gen;
  memcpy(o->magic, "objmagi", 8);
  return o;
}

Obj *kept[10]; /* not static: a static array only written is dropped */

static __attribute__((noinline)) void make_finalized(void) {
  for (int i = 0; i < N / 2 - 5; i++)
    fobj(i)->next = fobj(N / 2 + i); /* A -> B: A first */
  for (int i = 0; i < 5; i++) {
    kept[i] = fobj(N / 2 - 5 + i);
    kept[5 + i] = fobj(N - 5 + i);
  }
}

static void test_finalized_malloc(void) {
  GC_init_finalized_malloc();
  reset();
  make_finalized();
  collect(1);
  EXPECT(count(N / 2, N - 5, 1) == 0, "an object reached from a finalizable one was finalized");
  collect(4);
  int a = count(0, N / 2 - 5, 1), b = count(N / 2, N - 5, 1);
  EXPECT(MOST(a + b, N - 10), "unreachable finalized objects: %d + %d of %d", a, b, N - 10);
  EXPECT(count(0, N, -1) == 0, "a closure ran twice");
  EXPECT(count(N / 2 - 5, N / 2, 1) + count(N - 5, N, 1) == 0, "a reachable object was finalized");
  int bad = 0;
  for (int i = 0; i < N; i++)
    bad += early[i];
  EXPECT(bad == 0, "%d closures saw their object or what it reaches finalized already", bad);
  for (int i = 0; i < 10; i++)
    kept[i] = NULL;
}

/* ---- a custom kind with a disclaim procedure ----------------------------- */

static unsigned dkind;
static int GC_CALLBACK dproc(void *p) {
  Obj *o = p;
  if (o->gen != gen)
    return 0;
  runs[o->id]++;
  /* The first half asks to be kept once: asked again next cycle. */
  return o->id < N / 2 && runs[o->id] == 1;
}

static __attribute__((noinline)) void make_kind(void) {
  for (int i = 0; i < N; i++) {
    Obj *o = GC_generic_malloc(sizeof *o, (int)dkind);
    o->id = i;
    o->gen = gen;
  }
}

static void test_disclaim_kind(void) {
  dkind = GC_new_kind(GC_new_free_list(), 0 | GC_DS_LENGTH, 1, 1);
  GC_register_disclaim_proc((int)dkind, dproc, 1);
  reset();
  make_kind();
  collect(1);
  int once = count(0, N, 1);
  EXPECT(MOST(once, N), "disclaim procedures run after one collection: %d of %d", once, N);
  collect(3);
  int kept_twice = count(0, N / 2, 2), rest = count(N / 2, N, 1);
  EXPECT(MOST(kept_twice, N / 2), "kept objects asked again: %d of %d", kept_twice, N / 2);
  EXPECT(MOST(rest, N / 2), "released objects asked once: %d of %d", rest, N / 2);
  int over = 0;
  for (int i = 0; i < N; i++)
    over += runs[i] > (i < N / 2 ? 2 : 1);
  EXPECT(over == 0, "%d objects asked after they were released", over);
}

/* A custom kind's objects are scanned (length descriptor adjusted to the
 * size) or not (length 0, not adjusted): what only they point to is kept
 * in the first case, collected in the second. */
void *holders[2];
static __attribute__((noinline)) void make_held(unsigned kind, int slot, int lo) {
  Obj **h = GC_generic_malloc(N / 2 * sizeof(Obj *), (int)kind);
  for (int i = 0; i < N / 2; i++)
    h[i] = fobj(lo + i);
  holders[slot] = h;
}

static void test_kinds(void) {
  unsigned scan = GC_new_kind(GC_new_free_list(), 0 | GC_DS_LENGTH, 1, 1);
  unsigned noscan = GC_new_kind(GC_new_free_list(), 0 | GC_DS_LENGTH, 0, 1);
  reset();
  make_held(scan, 0, 0);
  make_held(noscan, 1, N / 2);
  long *z = GC_generic_malloc(64, (int)noscan);
  int nz = 0;
  for (int i = 0; i < 8; i++)
    nz += z[i] != 0;
  EXPECT(nz == 0, "a clearing kind's object is not zeroed");
  collect(3);
  EXPECT(count(0, N / 2, 1) == 0, "an object held by a scanned custom kind was collected");
  int n = count(N / 2, N, 1);
  EXPECT(MOST(n, N / 2), "objects held only by a pointer-free kind collected: %d of %d", n, N / 2);
  holders[0] = holders[1] = NULL;
}

/* ---- mark procedures ------------------------------------------------------- */

/* A language runtime's object whose mark procedure reaches memory outside
 * the heap (Guile's VM stack, mapped by Guile; here plain malloc, which
 * the collector never scans) and skips a weak field. */
typedef struct Vm {
  Obj **stack; /* malloc'd: only the procedure marks what it holds */
  int depth;
  Obj *weak;   /* not marked by the procedure */
} Vm;
static int bad_env;
static struct GC_ms_entry *GC_CALLBACK vm_mark(GC_word *addr, struct GC_ms_entry *msp,
                                               struct GC_ms_entry *lim, GC_word env) {
  Vm *vm = (Vm *)addr;
  if (env != 7)
    bad_env++;
  for (int i = 0; i < vm->depth && vm->stack; i++)
    msp = GC_MARK_AND_PUSH(vm->stack[i], msp, lim, (void **)&vm->stack[i]);
  return msp;
}
Vm *the_vm;

static __attribute__((noinline)) void make_vm(unsigned kind) {
  Vm *vm = GC_generic_malloc(sizeof *vm, (int)kind);
  vm->stack = malloc(N / 2 * sizeof(Obj *));
  for (int i = 0; i < N / 2; i++)
    vm->stack[i] = fobj(i);
  vm->depth = N / 2;
  vm->weak = fobj(N / 2); /* one object: the check below is strict */
  the_vm = vm;
}

static void test_mark_procs(void) {
  unsigned kind = GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(GC_new_proc(vm_mark), 7), 0, 1);
  reset();
  make_vm(kind);
  for (int i = 0; i < 3; i++) {
    scrub();
    GC_gcollect();
  }
  EXPECT(count(0, N / 2, 1) == 0, "an object only a mark procedure reaches was collected");
  EXPECT(bad_env == 0, "the mark procedure got a wrong env (%d)", bad_env);
  /* The weak field is not scanned: its object goes (bar a stale word). */
  for (int i = 0; i < 5 && !runs[N / 2]; i++)
    collect(1);
  EXPECT(runs[N / 2] == 1, "an object held only by a field the procedure skips was kept");
  free(the_vm->stack);
  the_vm->stack = NULL;
  the_vm = NULL;
  collect(4);
  int n = count(0, N / 2, 1);
  EXPECT(MOST(n, N / 2), "let go by the procedure, collected: %d of %d", n, N / 2);
}

/* ---- mark bits: a weak table takes an object back ------------------------ */

static GC_hidden_pointer hidden[N];
static int marked_inside[N];
static int GC_CALLBACK wproc(void *p) {
  Obj *o = p;
  if (o->gen != gen)
    return 0;
  runs[o->id]++;
  marked_inside[o->id] += GC_is_marked(p);
  return 0;
}
static int notified;
static void GC_CALLBACK notifier(void) { notified++; }

static __attribute__((noinline)) void make_weak(unsigned kind) {
  for (int i = 0; i < N; i++) {
    Obj *o = GC_generic_malloc(sizeof *o, (int)kind);
    o->id = i;
    o->gen = gen;
    hidden[i] = GC_HIDE_POINTER(o);
  }
}

static void test_mark_bits(void) {
  unsigned wkind = GC_new_kind(GC_new_free_list(), 0 | GC_DS_LENGTH, 1, 1);
  GC_register_disclaim_proc((int)wkind, wproc, 1);
  reset();
  Obj *live = GC_NEW(Obj);
  EXPECT(GC_is_marked(live) == 1, "a live object is not marked");
  make_weak(wkind);
  /* Queue the procedures without running them, then take the even ones
   * back as a weak table's lookup does (Boehm's disclaim_weakmap_test). */
  GC_set_finalize_on_demand(1);
  GC_set_finalizer_notifier(notifier);
  collect(1);
  EXPECT(notified > 0, "the finalizer notifier was not called");
  for (int i = 0; i < N; i += 2)
    GC_set_mark_bit(GC_REVEAL_POINTER(hidden[i]));
  GC_set_mark_bit(GC_REVEAL_POINTER(hidden[1]));
  GC_clear_mark_bit(GC_REVEAL_POINTER(hidden[1])); /* cleared: disclaimed */
  GC_invoke_finalizers();
  int taken_back = 0, disclaimed = 0, saw_mark = 0;
  for (int i = 0; i < N; i++) {
    if (i % 2 == 0)
      taken_back += runs[i] != 0;
    else
      disclaimed += runs[i] == 1;
    saw_mark += marked_inside[i];
  }
  EXPECT(taken_back == 0, "%d objects taken back with GC_set_mark_bit were disclaimed", taken_back);
  EXPECT(MOST(disclaimed, N / 2), "unmarked objects disclaimed: %d of %d", disclaimed, N / 2);
  EXPECT(runs[1] == 1, "GC_clear_mark_bit did not clear the mark");
  EXPECT(saw_mark == 0, "GC_is_marked answered 1 inside a disclaim procedure (%d)", saw_mark);
  /* The marks last one cycle more; then the taken-back ones, still
   * unreachable, are disclaimed too. */
  for (int i = 0; i < 3; i++) {
    collect(1);
    GC_invoke_finalizers();
  }
  int later = count(0, N, 1);
  EXPECT(MOST(later, N), "all disclaimed in the end: %d of %d", later, N);
  GC_set_finalize_on_demand(0);
  GC_reachable_here(live);
}

/* ---- toggle-refs ------------------------------------------------------------- */

static GC_ToggleRefStatus status[N];
static GC_ToggleRefStatus GC_CALLBACK toggle(void *p) { return status[((Obj *)p)->id]; }

static __attribute__((noinline)) void make_toggles(void) {
  for (int i = 0; i < N; i++) {
    status[i] = i < N / 2 ? GC_TOGGLE_REF_STRONG : GC_TOGGLE_REF_WEAK;
    EXPECT(GC_toggleref_add(fobj(i), i < N / 2) == GC_SUCCESS, "GC_toggleref_add failed");
  }
}

static void test_togglerefs(void) {
  GC_set_toggleref_func(toggle);
  EXPECT(GC_get_toggleref_func() == toggle, "GC_get_toggleref_func");
  reset();
  make_toggles();
  collect(3);
  EXPECT(count(0, N / 2, 1) == 0, "an object held by a strong toggle-ref was collected");
  int weak = count(N / 2, N, 1);
  EXPECT(MOST(weak, N / 2), "objects held by weak toggle-refs collected: %d of %d", weak, N / 2);
  for (int i = 0; i < N / 2; i++)
    status[i] = i % 2 ? GC_TOGGLE_REF_WEAK : GC_TOGGLE_REF_DROP;
  collect(4);
  int freed = count(0, N / 2, 1);
  EXPECT(MOST(freed, N / 2), "dropped or weakened toggle-refs let go: %d of %d", freed, N / 2);
  GC_set_toggleref_func(NULL);
}

/* ---- GC_exclude_static_roots --------------------------------------------------- */

Obj *excluded[N / 2]; /* data of the program, cut out of the roots */
Obj *included[N / 2];

static __attribute__((noinline)) void make_static(void) {
  for (int i = 0; i < N / 2; i++) {
    excluded[i] = fobj(i);
    included[i] = fobj(N / 2 + i);
  }
}

static void test_exclude(void) {
  GC_exclude_static_roots(excluded, excluded + N / 2);
  reset();
  make_static();
  collect(3);
  int n = count(0, N / 2, 1);
  EXPECT(MOST(n, N / 2), "objects held only by excluded data collected: %d of %d", n, N / 2);
  EXPECT(count(N / 2, N, 1) == 0, "an object held by data not excluded was collected");
  memset(included, 0, sizeof included);
}

/* ---- the stop signal ------------------------------------------------------------ */

static volatile int stop_thread;
static void *blocker(void *arg) {
  sigset_t all, cur;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* GC_pthread_sigmask (GC_THREADS) */
  pthread_sigmask(SIG_BLOCK, NULL, &cur);
  *(int *)arg = sigismember(&cur, GC_get_suspend_signal());
  Obj *mine = GC_NEW(Obj);
  while (!stop_thread)
    usleep(1000);
  GC_reachable_here(mine);
  return NULL;
}

static void test_signals(int sig_before_init) {
  EXPECT(GC_get_suspend_signal() == sig_before_init, "GC_set_suspend_signal before GC_INIT: %d not %d",
         GC_get_suspend_signal(), sig_before_init);
  struct sigaction sa;
  sigaction(sig_before_init, NULL, &sa);
  EXPECT(sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN, "no handler on the chosen signal");
  GC_set_suspend_signal(SIGRTMIN + 6); /* after GC_INIT: no effect */
  EXPECT(GC_get_suspend_signal() == sig_before_init, "the stop signal changed after GC_INIT");
  EXPECT(GC_get_thr_restart_signal() == sig_before_init, "no restart signal: the stop signal");
  int blocked = -1;
  pthread_t t;
  alarm(60); /* a thread blocking the stop signal would stall the collection */
  EXPECT(pthread_create(&t, NULL, blocker, &blocked) == 0, "pthread_create");
  while (blocked < 0)
    usleep(1000);
  EXPECT(blocked == 0, "GC_pthread_sigmask blocked the stop signal");
  collect(1);
  stop_thread = 1;
  pthread_join(t, NULL);
  alarm(0);
}

/* GC_generic_malloc_many (gc_inline.h's refill, Guile's inline
 * allocation): a list held only by its head, even of a pointer-free kind,
 * survives whole. */
void *many_head;
static __attribute__((noinline)) int make_many(void) {
  GC_generic_malloc_many(32, GC_I_PTRFREE, &many_head);
  int n = 0;
  for (void **p = many_head; p; p = *p, n++)
    ((long *)p)[1] = 0x5eed;
  return n;
}

static void test_malloc_many(void) {
  int n = make_many();
  EXPECT(n > 1, "GC_generic_malloc_many made a list of %d", n);
  collect(2);
  int lost = 0, len = 0;
  for (void **p = many_head; p && len <= n; p = *p, len++)
    lost += GC_base(p) != (void *)p || ((long *)p)[1] != 0x5eed;
  EXPECT(lost == 0 && len == n, "a list from GC_generic_malloc_many lost %d of %d", lost, n);
  many_head = NULL;
}

static void test_atomic_ops(void) {
  static volatile AO_t n;
  AO_store(&n, 41);
  EXPECT(AO_fetch_and_add1(&n) == 41 && AO_load(&n) == 42, "AO_fetch_and_add1");
  EXPECT(AO_compare_and_swap(&n, 42, 7) && !AO_compare_and_swap(&n, 42, 8) && AO_load(&n) == 7,
         "AO_compare_and_swap");
}

static int starts;
static void GC_CALLBACK on_start(void) { starts++; }
static void test_start_callback(void) {
  GC_set_start_callback(on_start);
  int before = starts;
  GC_gcollect();
  EXPECT(starts == before + 1, "the start callback ran %d times for one collection",
         starts - before);
  GC_set_start_callback(NULL);
}

static void test_wcsdup(void) {
  wchar_t *w = GC_wcsdup(L"gomalloc");
  EXPECT(w && wcscmp(w, L"gomalloc") == 0 && GC_base(w) == w, "GC_wcsdup");
}

int main(void) {
  int sig = SIGRTMIN + 3;
  GC_set_suspend_signal(sig); /* before GC_INIT, as Boehm requires */
  GC_INIT();
  test_finalized_malloc();
  test_disclaim_kind();
  test_kinds();
  test_mark_procs();
  test_mark_bits();
  test_togglerefs();
  test_exclude();
  test_signals(sig);
  test_wcsdup();
  test_atomic_ops();
  test_malloc_many();
  test_start_callback();
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
