/* boehm_prog.c: a program written for Boehm GC, built unchanged against
 * gomalloc's gc.h (include/gomalloc-gc): GC_THREADS' pthread_create
 * wrapping, explicit registration of a thread Boehm's way, and each
 * covered call once. It checks what it can and prints the closing line the
 * test harness reads ("N passed, M failed"). Built twice: by CMake against
 * the build tree, and by check_pkgconfig.sh through pkg-config after an
 * install. */
#define GC_THREADS
#include <gc.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;
#define EXPECT(c, what)                                                                            \
  do {                                                                                             \
    if (c)                                                                                         \
      passed++;                                                                                    \
    else {                                                                                         \
      failed++;                                                                                    \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, what);                                        \
    }                                                                                              \
  } while (0)

typedef struct Node {
  struct Node *left, *right;
  int i, j;
} Node;

static Node *make_tree(int depth) {
  Node *n = GC_NEW(Node);
  if (depth > 0) {
    n->left = make_tree(depth - 1);
    n->right = make_tree(depth - 1);
  }
  n->i = depth;
  return n;
}

static int check_tree(Node *n, int depth) {
  if (!n || n->i != depth)
    return 0;
  return depth == 0 || (check_tree(n->left, depth - 1) && check_tree(n->right, depth - 1));
}

static void *thread_main(void *arg) {
  Node *shared = arg; /* a collected object handed to the new thread */
  for (int k = 0; k < 50; k++)
    make_tree(10); /* garbage: collections run while shared lives here */
  return check_tree(shared, 8) ? shared : NULL;
}

/* A thread that registers itself, Boehm's way. */
static void *manual_thread(void *arg) {
  struct GC_stack_base sb;
  (void)arg;
  int ok = GC_get_stack_base(&sb) == GC_SUCCESS;
  GC_register_my_thread(&sb);
  Node *t = make_tree(6);
  GC_gcollect();
  ok = ok && check_tree(t, 6);
  GC_unregister_my_thread();
  return ok ? t : NULL;
}

static char *root_area[4];

int main(void) {
  GC_INIT();
  GC_enable_incremental();
  GC_set_free_space_divisor(3);
  GC_allow_register_threads();

  Node *longlived = make_tree(12);
  double *atomic = GC_MALLOC_ATOMIC(1000 * sizeof(double));
  for (int i = 0; i < 1000; i++)
    atomic[i] = i;
  int *na = GC_NEW_ATOMIC(int);
  *na = 42;

  GC_word before = GC_gc_no;
  for (int k = 0; k < 40; k++)
    make_tree(12);
  GC_gcollect();
  EXPECT(GC_gc_no > before, "GC_gc_no counts collections");
  EXPECT(check_tree(longlived, 12), "the long-lived tree survives");
  EXPECT(atomic[999] == 999.0 && *na == 42, "atomic blocks keep their data");
  EXPECT(GC_get_heap_size() > 0 && GC_get_heap_size() < (size_t)64 << 20, "heap size");

  /* GC_THREADS: pthread_create is GC_pthread_create. */
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, thread_main, make_tree(8));
  for (int i = 0; i < 3; i++) {
    void *r = NULL;
    pthread_join(th[i], &r);
    EXPECT(r != NULL, "a tree passed to a new thread survives");
  }
  pthread_t m;
  pthread_create(&m, NULL, manual_thread, NULL);
  void *r = NULL;
  pthread_join(m, &r);
  EXPECT(r != NULL, "a registered thread's tree survives");

  /* realloc, free, uncollectable, roots. */
  char *s = GC_MALLOC(10);
  strcpy(s, "gomalloc");
  s = GC_REALLOC(s, 100000);
  EXPECT(strcmp(s, "gomalloc") == 0, "GC_REALLOC keeps the contents");
  GC_FREE(s);
  Node **u = GC_MALLOC_UNCOLLECTABLE(sizeof(Node *));
  *u = make_tree(5);
  GC_add_roots(root_area, root_area + 4);
  root_area[1] = GC_MALLOC(64);
  strcpy(root_area[1], "root");
  GC_gcollect();
  EXPECT(check_tree(*u, 5), "an uncollectable block keeps its tree");
  EXPECT(strcmp(root_area[1], "root") == 0, "GC_add_roots area keeps its block");
  GC_FREE(u);

  /* Tuning variables and finalizers, as older programs use them. */
  GC_free_space_divisor = 4;
  GC_full_freq = 30;
  GC_dont_gc = 1;
  GC_word off_before = GC_gc_no;
  for (int k = 0; k < 20; k++)
    make_tree(12); /* 2.5 MB: would collect */
  EXPECT(GC_gc_no == off_before, "no collection while GC_dont_gc is set");
  GC_dont_gc = 0;
  GC_finalization_proc ofn = (GC_finalization_proc)1;
  void *ocd = (void *)1;
  GC_REGISTER_FINALIZER(make_tree(1), 0, 0, &ofn, &ocd);
  EXPECT(ofn == 0 && ocd == 0, "GC_REGISTER_FINALIZER accepted");
  for (int k = 0; k < 40; k++)
    make_tree(12);
  EXPECT(GC_gc_no > off_before, "collections again once GC_dont_gc is cleared");
  printf("collections %lu, heap %zu KiB\n", (unsigned long)GC_gc_no, GC_get_heap_size() >> 10);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
