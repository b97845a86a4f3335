/* test_heapbase.c: the heap's base is random per run, and
 * GOMALLOC_HEAP_BASE fixes it (issue 15, item 5).
 *
 * The heap started at 0x00c000000000 in every run, so the first malloc(10)
 * returned the same address each time, where glibc's changes: a double
 * free racing an allocation was reliably exploitable. The driver execs this
 * program (argument "child") several times and reads the address of its
 * first malloc(10): by default the runs must not all agree; with
 * GOMALLOC_HEAP_BASE=fixed they must, at Go's 0xc000000000 arena; with an
 * address, the heap must start there. */
#include "api.h"

#include <stdbool.h>

static uintptr_t run_once(const char *self, const char *base) {
  int fd[2];
  if (pipe(fd) != 0)
    return 0;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    if (base)
      setenv("GOMALLOC_HEAP_BASE", base, 1);
    else
      unsetenv("GOMALLOC_HEAP_BASE");
    execl(self, self, "child", (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  char buf[64] = {0};
  ssize_t n = read(fd[0], buf, sizeof buf - 1);
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(n > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child (base %s): status %#x", base ? base : "-",
        st);
  return (uintptr_t)strtoull(buf, NULL, 16);
}

/* The heap's first arena, from the address of a small block. */
#define ARENA(p) ((p) & ~(uintptr_t)((64 << 20) - 1))

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    void *p = T_malloc(opaque_size(10));
    printf("%lx\n", (unsigned long)(uintptr_t)p);
    return 0;
  }
  const char *self = "/proc/self/exe";
  char path[4096];
  ssize_t n = readlink(self, path, sizeof path - 1);
  if (n > 0) {
    path[n] = 0;
    self = path;
  }

  check_section("random by default");
  uintptr_t a[4];
  int distinct = 0;
  for (int i = 0; i < 4; i++) {
    a[i] = run_once(self, NULL);
    printf("default run %d: first malloc(10) = %#lx\n", i, (unsigned long)a[i]);
    bool seen = false;
    for (int j = 0; j < i; j++)
      seen |= a[j] == a[i];
    distinct += !seen;
  }
  /* Two equal bases in four runs: 1 in 38000 with 229376 bases. */
  CHECK(distinct >= 3, "the first malloc(10) took only %d distinct addresses in 4 runs", distinct);
  /* Random does not mean dangerous: never below 4 GiB (non-PIE images, the break). */
  for (int i = 0; i < 4; i++)
    CHECK(a[i] >= ((uintptr_t)4 << 30), "run %d: %#lx", i, (unsigned long)a[i]);

  check_section("GOMALLOC_HEAP_BASE=fixed");
  uintptr_t f1 = run_once(self, "fixed"), f2 = run_once(self, "fixed");
  printf("fixed: %#lx, %#lx\n", (unsigned long)f1, (unsigned long)f2);
  CHECK(f1 == f2, "fixed base: %#lx then %#lx", (unsigned long)f1, (unsigned long)f2);
  CHECK(ARENA(f1) == (uintptr_t)0xc000000000, "fixed base: first block %#lx", (unsigned long)f1);

  check_section("GOMALLOC_HEAP_BASE=address");
  uintptr_t x1 = run_once(self, "0x234500000000"), x2 = run_once(self, "0x234500000000");
  printf("0x234500000000: %#lx, %#lx\n", (unsigned long)x1, (unsigned long)x2);
  CHECK(x1 == x2 && ARENA(x1) == (uintptr_t)0x234500000000, "address base: %#lx, %#lx",
        (unsigned long)x1, (unsigned long)x2);
  return check_summary();
}
