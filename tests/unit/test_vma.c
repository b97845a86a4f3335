/* Checklist items 30 and 21.
 *
 * 30: gomalloc must not shred the address space into mappings (the kernel
 *     allows about 65530 per process): a workload of ~1 GiB with frees,
 *     scavenging and trims ends with few mappings of ours; and with the
 *     mapping limit exhausted by the program itself, allocation fails with
 *     NULL + ENOMEM instead of crashing, free and gm_release still work,
 *     and allocation works again once mappings are available.
 * 21: gm_free_sized with a size larger than the block aborts in debug
 *     builds (GM_DEBUG) and is a plain free otherwise. */
#include "unit.h"

#include "gomalloc.h"

#ifndef GM_DEBUG
#define GM_DEBUG 0 /* set by the build for debug builds */
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f)
    return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

static void test_no_shredding(void) {
  int before = count_maps();
  enum { N = 20000 };
  static void *p[N];
  static bool large[N];
  int live_large = 0; /* debug builds: each has a guard page, two mappings */
  unsigned long long rs = unit_seed();
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) {
      size_t n = unit_rand(&rs) % 100 == 0 ? (size_t)(unit_rand(&rs) % (2 << 20)) : 16 + unit_rand(&rs) % 4000;
      p[i] = gm_malloc(n);
      large[i] = p[i] && n + (GM_DEBUG ? 8 : 0) > 32768;
      live_large += large[i];
      if (p[i])
        memset(p[i], 1, n < 8192 ? n : 8192);
    }
    for (int i = 0; i < N; i += 1 + (int)(unit_rand(&rs) % 3)) {
      gm_free(p[i]);
      live_large -= large[i];
      p[i] = NULL;
      large[i] = false;
    }
    gm_release(); /* madvise, not munmap/mprotect: no new mappings */
  }
  int after = count_maps();
  printf("vma: mappings before %d, after ~1 GiB of churn and releases %d\n", before, after);
  int allowed = 64 + (GM_DEBUG ? 2 * live_large : 0);
  CHECK(after - before < allowed, "gomalloc created %d mappings (%d allowed)", after - before,
        allowed);
  for (int i = 0; i < N; i++)
    gm_free(p[i]);
}

/* In a child: use up the mapping limit, then allocate. */
static int exhausted_child(void) {
  long ps = sysconf(_SC_PAGESIZE);
  size_t cap = 1 << 17, n = 0;
  char **maps = mmap(NULL, cap * sizeof *maps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (maps == MAP_FAILED)
    return 10;
  /* Alternate protections so neighbouring mappings cannot merge. */
  for (; n < cap; n++) {
    char *m = mmap(NULL, (size_t)ps, n % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
      break;
    maps[n] = m;
  }
  int fails = 0, enomem = 1, got = 0;
  void *keep[256];
  for (int i = 0; i < 256; i++) {
    errno = 0;
    keep[i] = gm_malloc((size_t)(i + 1) << 16); /* needs new heap memory soon */
    if (!keep[i]) {
      fails++;
      enomem &= errno == ENOMEM;
    } else {
      got++;
      memset(keep[i], 2, 4096);
    }
  }
  for (int i = 0; i < 256; i++)
    gm_free(keep[i]);
  gm_release();
  /* Give mappings back and try again. */
  for (size_t i = 0; i < n; i++)
    munmap(maps[i], (size_t)ps);
  void *q = gm_malloc(64 << 20);
  int ok_after = q != NULL;
  if (q)
    memset(q, 3, 64 << 20);
  gm_free(q);
  printf("vma: %zu mappings made, then %d allocations ok, %d failed (all ENOMEM: %s), after "
         "unmapping: %s\n",
         n, got, fails, enomem ? "yes" : "no", ok_after ? "ok" : "FAILED");
  fflush(stdout);
  return (enomem ? 0 : 2) | (ok_after ? 0 : 4);
}

static void test_exhausted_mappings(void) {
#ifdef GM_TEST_SANITIZED
  /* The sanitizer's own allocator needs mappings too: skip. */
  return;
#endif
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(exhausted_child());
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st), "child with no mappings left crashed (signal %d)",
        WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d (2: a failure was not ENOMEM, 4: "
        "no recovery after unmapping)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_sized_free(void) {
  void *p = gm_malloc(16);
  gm_free_sized(p, 16); /* right size: a plain free in every build */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
      dup2(devnull, 2);
    void *q = gm_malloc(16);
    gm_free_sized(q, 4096); /* wrong size */
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
#if GM_DEBUG
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "debug build: free_sized with a wrong size "
        "must abort (status %d)", st);
#else
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "release build: free_sized is a plain free "
        "(status %d)", st);
#endif
}

int main(void) {
  test_no_shredding();
  test_exhausted_mappings();
  test_sized_free();
  return check_summary();
}
