/* test_addrspace.c: the heap's memory is charged, and what the heap keeps
 * follows what is used (issue 15, items 1 and 4).
 *
 * Item 1: in the default overcommit mode (vm.overcommit_memory 0, the
 * kernel refuses one mapping larger than RAM + swap), malloc and calloc of
 * more than RAM + swap must return NULL with ENOMEM at once, as glibc's do,
 * and leave nothing resident. Before, the heap mapped with mprotect over a
 * MAP_NORESERVE reservation, never charged: they succeeded, and the OOM
 * killer came when the memory was touched. Requests of 1 TiB and 2^46 - 1
 * must fail as quickly and leave no span metadata resident (1 TiB left
 * 1.15 GB of page -> span table, kept after free and trim). Skipped in mode
 * 1 (always overcommit), where the kernel says yes to anything; the sysctl
 * is never changed here (tests/stress/sysctl_modes.sh covers mode 2).
 *
 * Item 4: posix_memalign(&p, 1 << 40, 1) and 1 << 42 must cost memory
 * bounded by the block, not by the alignment (they left 100 MB and 400 MB
 * resident, kept after free and trim); the block must be aligned and usable.
 *
 * The whole test runs in a child under RLIMIT_AS 8 TiB, so that a heap
 * without the fixes cannot take the machine down (2^46 cannot even be
 * reserved there); 1 TiB and the alignments fit under it. Resident memory
 * is read from smaps_rollup, which walks the page tables (VmRSS lags). */
#include "api.h"

#include <stdbool.h>

static long long meminfo_kb(const char *key) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  long long v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0)
      sscanf(line + n, "%lld", &v);
  if (f)
    fclose(f);
  return v;
}

static long long rss_kb(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  long long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "Rss:", 4) == 0)
      sscanf(line + 4, "%lld", &v);
  if (f)
    fclose(f);
  return v;
}

static int overcommit_mode(void) {
  FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
  int m = -1;
  if (f) {
    if (fscanf(f, "%d", &m) != 1)
      m = -1;
    fclose(f);
  }
  return m;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define RSS_SLACK_KB (16 * 1024) /* stdio, the first arena's metadata */

/* An impossible request: NULL, ENOMEM, within a second, nothing resident
 * after it. A block that was handed out anyway is leaked, never touched or
 * freed (calloc would clear it, a free could let a later calloc reuse it). */
static void impossible(const char *what, size_t n, bool use_calloc) {
  long long r0 = rss_kb();
  double t0 = now();
  errno_sentinel();
  void *p = use_calloc ? T_calloc(1, n) : T_malloc(opaque_size(n));
  int e = errno;
  double dt = now() - t0;
  T_trim();
  long long r1 = rss_kb();
  CHECK(p == NULL && e == ENOMEM, "%s(%zu GiB): %p, errno %s (want NULL, ENOMEM)", what, n >> 30,
        p, errno_name(e));
  CHECK(dt < 1.0, "%s(%zu GiB) took %.2f s", what, n >> 30, dt);
  CHECK(r1 - r0 < RSS_SLACK_KB, "%s(%zu GiB) left %lld kB resident", what, n >> 30, r1 - r0);
}

static void huge_alignment(unsigned shift) {
  size_t align = (size_t)1 << shift;
  long long r0 = rss_kb();
  void *p = NULL;
  int rc = T_posix_memalign(&p, align, 1);
  CHECK(rc == 0 && p && ((uintptr_t)p & (align - 1)) == 0,
        "posix_memalign(1 << %u, 1): %d, %p", shift, rc, p);
  if (rc == 0 && p) {
    *(volatile char *)p = 0x5a; /* the block is one byte */
    T_free(p);
  }
  T_trim();
  long long r1 = rss_kb();
  printf("posix_memalign(1 << %u, 1) + free + trim: RSS %+lld kB\n", shift, r1 - r0);
  CHECK(r1 - r0 < RSS_SLACK_KB, "posix_memalign(1 << %u, 1) left %lld kB resident", shift, r1 - r0);
}

__attribute__((noreturn)) static void child(void) {
  struct rlimit rl = {(rlim_t)8 << 40, (rlim_t)8 << 40};
  CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));
  void *warm = T_malloc(100); /* initialised, the first arena mapped */
  T_free(warm);

  check_section("item 4: huge alignments");
  huge_alignment(40);
  huge_alignment(42);

  check_section("item 1: impossible requests");
  int mode = overcommit_mode();
  long long ram_swap = meminfo_kb("MemTotal:") + meminfo_kb("SwapTotal:");
  size_t over = (size_t)(ram_swap / 4 * 5) << 10; /* RAM + swap + 25% */
  printf("overcommit mode %d, RAM + swap %lld MiB, asking %zu GiB\n", mode, ram_swap >> 10,
         over >> 30);
  if (mode == 1 || over >= ((size_t)1 << 40)) {
    printf("SKIP impossible requests: overcommit mode %d, RAM + swap %lld kB\n", mode, ram_swap);
  } else {
    impossible("calloc", over, true);
    impossible("malloc", over, false);
  }
  impossible("malloc", (size_t)1 << 40, false);
  impossible("malloc", ((size_t)1 << 46) - 1, false);
  exit(check_summary());
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0)
    child();
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child failed (status %#x%s)", st,
        WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? ": killed, the OOM killer?" : "");
  return check_summary();
}
