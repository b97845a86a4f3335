/* test_os.c: the OS layer (os.h) against the real kernel: reservation and
 * alignment, RSS rising on touch and falling on gm_sys_unused, zero pages,
 * ENOMEM under RLIMIT_AS, errno preservation.
 *
 * Anything that may crash or needs a resource limit runs in a forked child,
 * so one failure cannot take the rest of the run with it. */
#include "unit.h"

#include "os.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)
#define GiB ((size_t)1 << 30)

/* RSS must move by at least this much for a 32 MiB change: the slack covers
 * the test's own pages and kernel accounting lag. */
#define REGION (32 * MiB)
#define RSS_SLACK_MIN (28 * MiB)

/* Rss from /proc/self/smaps_rollup in bytes, or 0 if the kernel lacks it (< 4.14). */
static size_t smaps_rss(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  if (!f)
    return 0;
  char line[256];
  size_t kb = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Rss: %zu kB", &kb) == 1)
      break;
  fclose(f);
  return kb * 1024;
}

static void touch_pages(char *p, size_t n, char val) {
  size_t ps = gm_sys_page_size();
  for (size_t off = 0; off < n; off += ps)
    ((volatile char *)p)[off] = val;
}

static bool all_zero(const char *p, size_t n) {
  const uint64_t *w = (const uint64_t *)p;
  for (size_t i = 0; i < n / sizeof *w; i++)
    if (w[i] != 0)
      return false;
  return true;
}

/* Runs fn in a child; returns its wait status. */
static int in_child(void (*fn)(void *), void *arg) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0) {
    fn(arg);
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return status;
}

static void child_read(void *p) {
  /* Default action, no core file: a sanitizer's SEGV handler would turn the
   * signal into an exit code. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGSEGV, &sa, NULL);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  /* Must fault: the only way out is SIGSEGV. */
  (void)*(volatile char *)p;
  _exit(0);
}

static bool faults_on_read(void *p) {
  int st = in_child(child_read, p);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

static void test_page_size(void) {
  size_t ps = gm_sys_page_size();
  CHECK(ps >= 4096 && (ps & (ps - 1)) == 0, "page size %zu", ps);
  CHECK(ps == (size_t)sysconf(_SC_PAGESIZE), "page size %zu, sysconf %ld", ps,
        sysconf(_SC_PAGESIZE));
}

/* The heap's main path: reserve an arena, map part of it, use it, give the
 * memory back, use it again, release everything. */
static void test_arena_lifecycle(void) {
  const size_t arena = 64 * MiB;
  char *base = gm_sys_reserve_aligned(NULL, arena, arena);
  CHECK(base != NULL, "reserve_aligned 64 MiB: errno %d", errno);
  if (!base)
    return;
  CHECK(((uintptr_t)base & (arena - 1)) == 0, "base %p not 64 MiB aligned", (void *)base);

  /* Reserved memory is PROT_NONE: it costs nothing and faults on access. */
  CHECK(faults_on_read(base), "reading reserved memory did not fault");

  size_t rss0 = gm_sys_rss(), srss0 = smaps_rss();
  CHECK(rss0 > 0, "gm_sys_rss returned 0");
  CHECK(gm_sys_map(base, REGION), "gm_sys_map 32 MiB: errno %d", errno);
  CHECK(all_zero(base, REGION), "freshly mapped memory is not zero");
  touch_pages(base, REGION, 1);
  size_t rss1 = gm_sys_rss(), srss1 = smaps_rss();
  CHECK(rss1 >= rss0 + RSS_SLACK_MIN, "RSS %zu -> %zu KiB after touching 32 MiB", rss0 >> 10,
        rss1 >> 10);
  if (srss0)
    CHECK(srss1 >= srss0 + RSS_SLACK_MIN, "smaps Rss %zu -> %zu KiB after touching 32 MiB",
          srss0 >> 10, srss1 >> 10);
  /* The rest of the arena is still reserved. */
  CHECK(faults_on_read(base + REGION), "arena beyond the mapped part did not fault");

  errno = 1789;
  gm_sys_unused(base, REGION);
  CHECK(errno == 1789, "gm_sys_unused changed errno to %d", errno);
  size_t rss2 = gm_sys_rss(), srss2 = smaps_rss();
  CHECK(rss2 + RSS_SLACK_MIN <= rss1, "RSS %zu -> %zu KiB after gm_sys_unused", rss1 >> 10,
        rss2 >> 10);
  if (srss0)
    CHECK(srss2 + RSS_SLACK_MIN <= srss1, "smaps Rss %zu -> %zu KiB after gm_sys_unused",
          srss1 >> 10, srss2 >> 10);
  CHECK(all_zero(base, REGION), "memory does not read as zero after gm_sys_unused");

  /* Prepared -> Ready: writable again, and backed again once touched. */
  gm_sys_used(base, REGION);
  touch_pages(base, REGION, 2);
  CHECK(base[0] == 2 && base[REGION - gm_sys_page_size()] == 2, "memory not writable after used");
  size_t rss3 = gm_sys_rss();
  CHECK(rss3 >= rss2 + RSS_SLACK_MIN, "RSS %zu -> %zu KiB after touching again", rss2 >> 10,
        rss3 >> 10);

  /* Ready -> Reserved. */
  size_t ps = gm_sys_page_size();
  errno = 1789;
  gm_sys_fault(base, ps);
  CHECK(errno == 1789, "gm_sys_fault changed errno to %d", errno);
  CHECK(faults_on_read(base), "page did not fault after gm_sys_fault");
  CHECK(base[ps] == 2, "gm_sys_fault touched the next page");

  errno = 1789;
  gm_sys_free(base, arena);
  CHECK(errno == 1789, "gm_sys_free changed errno to %d", errno);
  unsigned char vec;
  CHECK(mincore(base, ps, &vec) != 0 && errno == ENOMEM, "arena still mapped after gm_sys_free");
}

/* gm_sys_unused rounds inwards: partial pages at either end keep their data. */
static void test_unused_rounds_inwards(void) {
  size_t ps = gm_sys_page_size();
  char *p = gm_sys_alloc(4 * ps);
  CHECK(p != NULL, "gm_sys_alloc: errno %d", errno);
  if (!p)
    return;
  memset(p, 0x5a, 4 * ps);
  gm_sys_unused(p + 100, 2 * ps); /* covers page 1 only in full */
  CHECK(p[0] == 0x5a && p[ps - 1] == 0x5a, "page 0 (partly covered) was released");
  CHECK(all_zero(p + ps, ps), "page 1 (fully covered) was not released");
  CHECK(p[2 * ps] == 0x5a && p[3 * ps] == 0x5a, "pages 2-3 (partly/not covered) were released");
  gm_sys_unused(p + 1, ps - 2); /* less than a page: nothing to release */
  CHECK(p[1] == 0x5a, "sub-page range was released");
  gm_sys_free(p, 4 * ps);
}

static void test_sys_alloc(void) {
  size_t ps = gm_sys_page_size();
  size_t n = 100000; /* not a multiple of the page: rounded up */
  char *p = gm_sys_alloc(n);
  CHECK(p != NULL, "gm_sys_alloc(%zu): errno %d", n, errno);
  if (!p)
    return;
  size_t rounded = (n + ps - 1) & ~(ps - 1);
  CHECK(((uintptr_t)p & (ps - 1)) == 0, "gm_sys_alloc result %p not page aligned", (void *)p);
  CHECK(all_zero(p, rounded), "gm_sys_alloc memory is not zero");
  memset(p, 0xa5, rounded); /* the rounded-up tail is usable too */
  CHECK((unsigned char)p[rounded - 1] == 0xa5, "write did not stick");
  gm_sys_free(p, rounded);

  errno = 0;
  CHECK(gm_sys_alloc(SIZE_MAX) == NULL && errno == ENOMEM, "gm_sys_alloc(SIZE_MAX): errno %d",
        errno);
  errno = 0;
  CHECK(gm_sys_alloc(SIZE_MAX - ps) == NULL && errno == ENOMEM,
        "gm_sys_alloc(SIZE_MAX - page): errno %d", errno);
}

/* A hint that is free is honoured exactly. */
static void test_reserve_hint(void) {
  const size_t n = 4 * MiB;
  char *a = gm_sys_reserve_aligned(NULL, n, n);
  CHECK(a != NULL, "reserve_aligned: errno %d", errno);
  if (!a)
    return;
  gm_sys_free(a, n);
  char *b = gm_sys_reserve_aligned(a, n, n);
  CHECK(b == a, "free aligned hint %p not used: got %p", (void *)a, (void *)b);
  if (b)
    gm_sys_free(b, n);

  errno = 0;
  CHECK(gm_sys_reserve_aligned(NULL, SIZE_MAX - MiB, 64 * MiB) == NULL && errno == ENOMEM,
        "reserve_aligned with n + align overflowing: errno %d", errno);
}

/* Child exit codes say which expectation failed. */
static void child_rlimit(void *arg) {
  size_t limit = *(size_t *)arg;
  struct rlimit rl = {limit, limit};
  if (setrlimit(RLIMIT_AS, &rl) != 0)
    _exit(10);
  /* Small requests still fit: the failures below are about size, not a broken limit. */
  void *small = gm_sys_reserve(NULL, MiB);
  if (!small)
    _exit(11);
  gm_sys_free(small, MiB);

  errno = 0;
  if (gm_sys_reserve(NULL, (size_t)1 << 40) != NULL || errno != ENOMEM)
    _exit(12);
  errno = 0;
  if (gm_sys_reserve_aligned(NULL, GiB, 64 * MiB) != NULL || errno != ENOMEM)
    _exit(13);
  errno = 0;
  if (gm_sys_alloc(GiB) != NULL || errno != ENOMEM)
    _exit(14);
  _exit(0);
}

static void test_rlimit_as(void) {
  /* Leave room above the current size: statm's first field is the VM size in pages. */
  size_t vm_pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%zu", &vm_pages) != 1)
      vm_pages = 0;
    fclose(f);
  }
  CHECK(vm_pages > 0, "cannot read /proc/self/statm");
  size_t limit = vm_pages * (size_t)sysconf(_SC_PAGESIZE) + 256 * MiB;
  int st = in_child(child_rlimit, &limit);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "under RLIMIT_AS: child %s %d (10 setrlimit, 11 small reserve, 12 reserve, "
        "13 reserve_aligned, 14 sys_alloc)",
        WIFEXITED(st) ? "exited" : "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void test_rss_preserves_errno(void) {
  errno = 1789;
  size_t rss = gm_sys_rss();
  CHECK(errno == 1789, "gm_sys_rss changed errno to %d", errno);
  CHECK(rss > 0, "gm_sys_rss returned 0");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  test_page_size();
  test_arena_lifecycle();
  test_unused_rounds_inwards();
  test_sys_alloc();
  test_reserve_hint();
  test_rlimit_as();
  test_rss_preserves_errno();
  return check_summary();
}
