/* test_lifecycle.c: allocation at the edges of a process's life
 * (checklist item 25).
 *
 * The driver re-executes this program in child modes and checks each
 * child exits 0 and reports every stage:
 *   basic          malloc/calloc/free in a constructor before main (also one
 *                  that starts a thread), in main, in dlsym/dlerror/dlopen
 *                  paths (glibc's dl code callocs), in atexit handlers
 *                  registered before and in main, and in destructors
 *                  (priority 101 runs last: after the allocator's own
 *                  destructor when linked statically);
 *   exit_threads   exit() while 4 threads are allocating in loops;
 *   main_pthread_exit  the main thread leaves with pthread_exit while other
 *                  threads allocate and free its blocks, the last thread
 *                  calls exit(0). */
#include "api.h"

#include <dlfcn.h>
#include <pthread.h>

static void say(const char *s) {
  ssize_t r = write(1, s, strlen(s));
  (void)r;
}

static int in_child;
static char *ctor_block;
static unsigned char *ctor_zero;
static void *ctor_thread_block;

static void *ctor_thread(void *arg) {
  (void)arg;
  void *p = T_malloc(777);
  if (p)
    memset(p, 7, 777);
  return p;
}

static void atexit_early(void) {
  void *p = T_malloc(300), *q = T_calloc(100, 100);
  void *r = T_realloc(p, 70000);
  int ok = q && r && first_nonzero(q, 10000) == 10000;
  T_free(q);
  T_free(r ? r : p);
  if (in_child)
    say(ok ? "atexit-early ok\n" : "atexit-early FAILED\n");
}

static void atexit_main(void) {
  void *ps[100];
  for (int i = 0; i < 100; i++)
    ps[i] = T_malloc((size_t)i * 500 + 1);
  int ok = 1;
  for (int i = 0; i < 100; i++) {
    ok &= ps[i] != NULL;
    T_free(ps[i]);
  }
  if (in_child)
    say(ok ? "atexit-main ok\n" : "atexit-main FAILED\n");
}

__attribute__((constructor(101))) static void early_ctor(void) {
  /* Before main, possibly before the allocator's own constructor. */
  ctor_block = T_malloc(100);
  if (ctor_block)
    strcpy(ctor_block, "made in a constructor");
  ctor_zero = T_calloc(1, 1 * MiB);
  void *t = T_malloc(5000);
  T_free(t);
  pthread_t th;
  if (pthread_create(&th, NULL, ctor_thread, NULL) == 0)
    pthread_join(th, &ctor_thread_block);
  atexit(atexit_early);
}

__attribute__((destructor(101))) static void late_dtor(void) {
  void *p = T_malloc(64), *q = T_malloc(2 * MiB);
  void *r = T_realloc(p, 10000);
  int ok = q && r;
  T_free(r ? r : p);
  T_free(q);
  if (in_child)
    say(ok ? "dtor101 ok\n" : "dtor101 FAILED\n");
}

__attribute__((destructor)) static void plain_dtor(void) {
  void *p = T_calloc(10, 10);
  int ok = p && first_nonzero(p, 100) == 100;
  T_free(p);
  if (in_child)
    say(ok ? "dtor ok\n" : "dtor FAILED\n");
}

static int child_basic(void) {
  int ok = 1;
  ok &= ctor_block && strcmp(ctor_block, "made in a constructor") == 0;
  ok &= ctor_zero && first_nonzero(ctor_zero, 1 * MiB) == 1 * MiB;
  ok &= ctor_thread_block && ((unsigned char *)ctor_thread_block)[776] == 7;
  T_free(ctor_block);
  T_free(ctor_zero);
  T_free(ctor_thread_block);
  say(ok ? "ctor ok\n" : "ctor FAILED\n");

  /* dl paths that allocate (dlerror strings, dlopen link maps). */
  int dl_ok = 1;
  for (int i = 0; i < 200; i++) {
    void *s = dlsym(RTLD_DEFAULT, "gm_test_no_such_symbol");
    const char *e = dlerror();
    dl_ok &= s == NULL && e != NULL;
  }
  for (int i = 0; i < 20; i++) {
    void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      dl_ok = 0;
      break;
    }
    dl_ok &= dlsym(h, "cos") != NULL;
    dlclose(h);
    void *h2 = dlopen("libgomalloc_test_missing.so", RTLD_NOW);
    dl_ok &= h2 == NULL && dlerror() != NULL;
  }
  say(dl_ok ? "dl ok\n" : "dl FAILED\n");
  atexit(atexit_main);
  say("main ok\n");
  return 0;
}

static atomic_int stop_flag;
static void *alloc_loop(void *arg) {
  unsigned long s = (unsigned long)(uintptr_t)arg * 2654435761u + 1;
  void *keep[64] = {0};
  while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
    s = s * 6364136223846793005UL + 1442695040888963407UL;
    int k = (int)((s >> 33) % 64);
    T_free(keep[k]);
    size_t n = (s >> 40) % 100 == 0 ? 200 * KiB : 1 + (s >> 45) % 3000;
    keep[k] = T_malloc(n);
    if (keep[k])
      memset(keep[k], 1, n < 256 ? n : 256);
  }
  return NULL;
}

static int child_exit_threads(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, alloc_loop, (void *)(uintptr_t)(i + 1));
  usleep(20000);
  say("main ok\n");
  exit(0); /* threads still allocating */
}

static void *main_blocks[1000];
static pthread_t main_tid;
static void *after_main_exit(void *arg) {
  (void)arg;
  pthread_join(main_tid, NULL); /* wait until the main thread is gone */
  for (int i = 0; i < 1000; i++)
    T_free(main_blocks[i]);
  for (int i = 0; i < 10000; i++)
    T_free(T_malloc((size_t)i % 5000 + 1));
  atomic_store(&stop_flag, 1);
  say("last thread ok\n");
  exit(0);
}

static int child_main_pthread_exit(void) {
  for (int i = 0; i < 1000; i++)
    main_blocks[i] = T_malloc((size_t)i * 13 + 1);
  main_tid = pthread_self();
  pthread_t t[3], last;
  for (int i = 0; i < 3; i++) {
    pthread_create(&t[i], NULL, alloc_loop, (void *)(uintptr_t)(i + 7));
    pthread_detach(t[i]);
  }
  pthread_create(&last, NULL, after_main_exit, NULL);
  say("main ok\n");
  pthread_exit(NULL);
}

static child_result_t res;

static void run_mode(const char *argv0, const char *mode, const char *const *markers, int rounds) {
  check_section(mode);
  for (int r = 0; r < rounds; r++) {
    char *args[] = {(char *)argv0, "child", (char *)mode, NULL};
    if (run_child(NULL, NULL, args, NULL, 30, &res) != 0) {
      CHECK(0, "%s: could not start the child", mode);
      return;
    }
    char st[128];
    int ok = CHECK(child_exited_ok(&res), "%s (round %d): expected exit 0, got %s", mode, r,
                   child_status_text(&res, st, sizeof st));
    for (const char *const *m = markers; *m; m++)
      ok &= CHECK(strstr(res.out, *m) != NULL, "%s (round %d): expected \"%s\" in the output, missing",
                  mode, r, *m);
    ok &= CHECK(strstr(res.out, "FAILED") == NULL, "%s (round %d): a stage reported FAILED", mode, r);
    ok &= CHECK(strstr(res.err, "gomalloc: fatal") == NULL, "%s (round %d): fatal message on stderr",
                mode, r);
    if (!ok) {
      child_dump(mode, &res);
      return;
    }
  }
  printf("ok   %s x%d\n", mode, rounds);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "child") == 0) {
    in_child = 1;
    if (strcmp(argv[2], "basic") == 0)
      return child_basic();
    if (strcmp(argv[2], "exit_threads") == 0)
      return child_exit_threads();
    if (strcmp(argv[2], "main_pthread_exit") == 0)
      return child_main_pthread_exit();
    return 2;
  }
  printf("test_lifecycle (%s API)\n", API_NAME);
  /* The constructor ran in this process too. */
  CHECK(ctor_block && strcmp(ctor_block, "made in a constructor") == 0,
        "constructor block: expected the string, got %s", ctor_block ? ctor_block : "(null)");
  static const char *const basic[] = {"ctor ok\n", "dl ok\n",      "main ok\n", "atexit-main ok\n",
                                      "atexit-early ok\n", "dtor ok\n", "dtor101 ok\n", NULL};
  run_mode(argv[0], "basic", basic, 5);
  static const char *const exit_threads[] = {"main ok\n", "atexit-early ok\n", "dtor ok\n",
                                             "dtor101 ok\n", NULL};
  run_mode(argv[0], "exit_threads", exit_threads, 30);
  static const char *const pexit[] = {"main ok\n", "last thread ok\n", "atexit-early ok\n",
                                      "dtor101 ok\n", NULL};
  run_mode(argv[0], "main_pthread_exit", pexit, 30);
  return check_summary();
}
