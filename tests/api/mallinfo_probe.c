/* mallinfo_probe.c: calls glibc's introspection and tuning API (mallinfo,
 * mallinfo2, malloc_stats, malloc_info, mallopt, malloc_trim) and prints
 * what it gets. Linked with nothing but libc: test_mallinfo runs it as is
 * (glibc's malloc answers) and with libgomalloc.so preloaded, and compares.
 *
 *   mallinfo_probe shape        mallinfo's fields, malloc_stats (stderr),
 *                               malloc_info(0) and (1), mallopt's returns
 *   mallinfo_probe figures      mallinfo2 before, with 10 MiB in one block,
 *                               with 10 MiB in 100-byte blocks, after freeing
 *   mallinfo_probe clamp        mallinfo and mallinfo2 with a 3 GiB block
 *                               (never touched)
 *   mallinfo_probe trim PAD     keepcost after freeing 64 MiB, then after
 *                               malloc_trim(PAD)
 *   mallinfo_probe retain P V   mallopt(P, V) (P = 0: none), then 96 MiB
 *                               touched and freed; keepcost after 3 s */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* mallinfo */

static void print_mi2(const char *stage, struct mallinfo2 m) {
  printf("%s arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu usmblks=%zu fsmblks=%zu "
         "uordblks=%zu fordblks=%zu keepcost=%zu\n",
         stage, m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks,
         m.fordblks, m.keepcost);
}

static void *touch(void *p, size_t n) {
  if (!p) {
    printf("out of memory\n");
    exit(2);
  }
  memset(p, 1, n);
  return p;
}

static int shape(void) {
  enum { N = 1000 };
  static void *small[N], *mid[N];
  for (int i = 0; i < N; i++) {
    small[i] = touch(malloc(64), 64);
    mid[i] = touch(malloc(200), 200);
  }
  for (int i = 0; i < N; i += 2) {
    free(small[i]);
    free(mid[i]);
  }
  void *big = touch(malloc(10 << 20), 10 << 20);
  struct mallinfo m = mallinfo();
  printf("mallinfo arena=%d ordblks=%d smblks=%d hblks=%d hblkhd=%d usmblks=%d fsmblks=%d "
         "uordblks=%d fordblks=%d keepcost=%d\n",
         m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.usmblks, m.fsmblks, m.uordblks,
         m.fordblks, m.keepcost);
  fflush(stdout);
  malloc_stats();
  printf("info:\n");
  int r0 = malloc_info(0, stdout);
  printf("info(0) = %d\n", r0);
  printf("info(1) = %d\n", malloc_info(1, stdout));
  static const int params[] = {M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD,
                               M_MMAP_MAX, M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX,
                               12345, -100};
  static const int values[] = {0, 64, 160, 161, 1024, 64 << 20, -1};
  for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
    for (size_t j = 0; j < sizeof values / sizeof values[0]; j++)
      printf("mallopt(%d, %d) = %d\n", params[i], values[j], mallopt(params[i], values[j]));
  free(big);
  for (int i = 1; i < N; i += 2) {
    free(small[i]);
    free(mid[i]);
  }
  return 0;
}

static int figures(void) {
  enum { N = 100 * 1024 };
  static void *blocks[N];
  print_mi2("before", mallinfo2());
  void *big = touch(malloc(10 << 20), 10 << 20);
  print_mi2("large", mallinfo2());
  for (int i = 0; i < N; i++)
    blocks[i] = touch(malloc(100), 100);
  print_mi2("small", mallinfo2());
  free(big);
  for (int i = 0; i < N; i++)
    free(blocks[i]);
  print_mi2("freed", mallinfo2());
  return 0;
}

static int clamp(void) {
  void *p = malloc((size_t)3 << 30);
  if (!p) {
    printf("out of memory\n");
    return 2;
  }
  struct mallinfo m = mallinfo();
  struct mallinfo2 m2 = mallinfo2();
  printf("hblkhd=%d arena=%d uordblks=%d fordblks=%d\n", m.hblkhd, m.arena, m.uordblks,
         m.fordblks);
  printf("hblkhd2=%zu\n", m2.hblkhd);
  free(p);
  return 0;
}

/* 64 MiB in 4 MiB blocks, touched, then freed: free resident pages. */
static void churn(size_t total) {
  enum { MAXB = 64 };
  void *b[MAXB];
  size_t n = total / (4 << 20);
  for (size_t i = 0; i < n && i < MAXB; i++)
    b[i] = touch(malloc(4 << 20), 4 << 20);
  for (size_t i = 0; i < n && i < MAXB; i++)
    free(b[i]);
}

static int trim(size_t pad) {
  churn((size_t)64 << 20);
  printf("keepcost before %zu\n", mallinfo2().keepcost);
  int r = malloc_trim(pad);
  printf("trim %d keepcost after %zu\n", r, mallinfo2().keepcost);
  return 0;
}

static int retain(int param, int value) {
  if (param)
    printf("mallopt = %d\n", mallopt(param, value));
  churn((size_t)96 << 20);
  printf("keepcost freed %zu\n", mallinfo2().keepcost);
  sleep(3);
  printf("keepcost later %zu\n", mallinfo2().keepcost);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "shape"))
    return shape();
  if (!strcmp(mode, "figures"))
    return figures();
  if (!strcmp(mode, "clamp"))
    return clamp();
  if (!strcmp(mode, "trim") && argc > 2)
    return trim(strtoul(argv[2], NULL, 0));
  if (!strcmp(mode, "retain") && argc > 3)
    return retain(atoi(argv[2]), atoi(argv[3]));
  fprintf(stderr, "usage: mallinfo_probe shape|figures|clamp|trim PAD|retain PARAM VALUE\n");
  return 2;
}
