/* Checklist item 35: the library can be dlopen'ed after start (its one
 * initial-exec TLS block fits glibc's static TLS surplus). Opened with
 * RTLD_LOCAL it serves its gm_* API next to the process's own malloc.
 *
 * And dlclose does not unload it (-z nodelete): a thread that used the API
 * has a thread-exit destructor in the library, and the background thread
 * runs its code, so unmapping it would crash the process when that thread
 * exits or the background thread wakes. The library stays loaded after
 * dlclose (checked with RTLD_NOLOAD), and a thread exiting after the close
 * plus a few background ticks must not crash the process. */
#include "../common/check.h"

#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *(*m)(size_t);
static void (*f)(void *);
static sem_t ready, go;

/* Uses the API (so this thread registers its exit destructor) and maps
 * enough to start the background thread (16 MiB), then waits for the
 * library to be closed and exits: its destructor runs after dlclose. */
static void *user_thread(void *arg) {
  (void)arg;
  int bad = 0;
  void *small[64];
  for (int i = 0; i < 64; i++)
    if (!(small[i] = m(16 + (size_t)i * 8)))
      bad++;
  enum { NBIG = 48, BIG = 1 << 20 };
  void *big[NBIG];
  for (int i = 0; i < NBIG; i++) {
    big[i] = m(BIG);
    if (big[i])
      memset(big[i], i, BIG);
    else
      bad++;
  }
  for (int i = 0; i < NBIG; i++)
    f(big[i]);
  /* Half of the small blocks stay allocated: the thread leaves a cache
   * with work in it for its destructor. */
  for (int i = 0; i < 64; i += 2)
    f(small[i]);
  CHECK(bad == 0, "gm_malloc in a second thread: expected every block, %d were NULL", bad);
  sem_post(&ready);
  while (sem_wait(&go) != 0)
    ;
  return NULL; /* the thread-exit destructor runs here, after dlclose */
}

/* Whether a thread of this process is named NAME (/proc/self/task/N/comm). */
static int has_thread_named(const char *name) {
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -1;
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], comm[64] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *fp = fopen(path, "r");
    if (!fp)
      continue;
    if (fgets(comm, sizeof comm, fp))
      comm[strcspn(comm, "\n")] = 0;
    fclose(fp);
    found = strcmp(comm, name) == 0;
  }
  closedir(d);
  return found;
}

int main(int argc, char **argv) {
  CHECK(argc == 2, "usage: %s LIBGOMALLOC", argv[0]);
  if (argc != 2)
    return check_summary();
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(h != NULL, "dlopen(%s): expected it to load, got %s", argv[1], h ? "ok" : dlerror());
  if (!h)
    return check_summary();
  m = (void *(*)(size_t))dlsym(h, "gm_malloc");
  f = (void (*)(void *))dlsym(h, "gm_free");
  size_t (*us)(const void *) = (size_t(*)(const void *))dlsym(h, "gm_usable_size");
  CHECK(m && f && us, "expected gm_malloc, gm_free and gm_usable_size in the loaded library");
  if (!(m && f && us))
    return check_summary();
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    size_t n = 1 + (size_t)(i * 7919) % 70000;
    unsigned char *p = m(n);
    if (!p || us(p) < n) {
      bad++;
      continue;
    }
    memset(p, i & 0xff, n);
    if (p[n - 1] != (unsigned char)(i & 0xff))
      bad++;
    f(p);
  }
  CHECK(bad == 0, "gm_malloc through dlopen: expected every block usable, %d were not", bad);

  check_section("dlclose");
  sem_init(&ready, 0, 0);
  sem_init(&go, 0, 0);
  pthread_t t;
  int rc = pthread_create(&t, NULL, user_thread, NULL);
  CHECK(rc == 0, "pthread_create: expected 0, got %d", rc);
  if (rc != 0)
    return check_summary();
  while (sem_wait(&ready) != 0)
    ;
  /* Started by the slow path that saw 16 MiB mapped, before it returned;
   * unless GOMALLOC_SCAVENGER=off is set, which only weakens the test. */
  const char *scav = getenv("GOMALLOC_SCAVENGER");
  if (!scav || strcmp(scav, "off") != 0)
    CHECK(has_thread_named("gomalloc-scav") == 1,
          "expected the background thread (gomalloc-scav) to run after 48 MiB were mapped");
  rc = dlclose(h);
  CHECK(rc == 0, "dlclose: expected 0, got %d (%s)", rc, rc ? dlerror() : "");
  /* -z nodelete: still loaded, so its code is still there for the thread
   * destructor and the background thread. */
  void *again = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  CHECK(again != NULL, "dlopen(RTLD_NOLOAD) after dlclose: expected the library still loaded, got %s",
        again ? "ok" : "not loaded");
  if (again)
    dlclose(again);
  sem_post(&go);
  pthread_join(t, NULL);
  /* A few background ticks (100 ms each): unloaded, the thread would crash
   * at its next wake-up. Timing only gives a broken build the chance to
   * crash here; nothing checked depends on it. */
  struct timespec ts = {0, 350 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0)
    ;
  return check_summary();
}
