/* heap_errors.c: heap bugs memcheck must report under gomalloc as it does
 * under glibc (tests/valgrind/heap_errors.sh). Each line that memcheck
 * must blame carries an `expect:` comment naming the first words of the
 * report; the script finds them by these comments, and counts them: every
 * other line must run clean (calloc's zeroes, realloc's copies, frees of
 * every kind). Compiled -O0 -g, run once preloaded and once linked. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile char sink;

static void use(const void *p) { __asm__ volatile("" : : "r"(p) : "memory"); }

/* Leaks lose their pointer in a frame of their own. */
__attribute__((noinline)) static void leak_small(void) {
  char *p = malloc(100); /* expect: definitely lost */
  memset(p, 1, 100);
  use(p);
}

__attribute__((noinline)) static void leak_large(void) {
  char *p = malloc(200000); /* expect: definitely lost */
  p[0] = 1;
  use(p);
}

static void *free_it(void *p) {
  free(p);
  return NULL;
}

int main(void) {
  leak_small();
  leak_large();

  /* Use after free: local (this thread's span), remote (another thread
   * frees), large. */
  char *a = malloc(32);
  a[0] = 1;
  free(a);
  sink = a[0]; /* expect: Invalid read */
  char *b = malloc(48);
  b[0] = 2;
  pthread_t t;
  pthread_create(&t, NULL, free_it, b);
  pthread_join(t, NULL);
  sink = b[1]; /* expect: Invalid read */
  char *c = malloc(100000);
  c[0] = 3;
  free(c);
  sink = c[10]; /* expect: Invalid read */

  /* Overruns: by one byte past a small block (slot of 32), a large one, an
   * aligned one (slot of 64). */
  char *d = malloc(20);
  memset(d, 0, 20);
  d[20] = 1; /* expect: Invalid write */
  char *e = malloc(100000);
  memset(e, 0, 100000);
  e[100000] = 1; /* expect: Invalid write */
  char *f = aligned_alloc(64, 40);
  memset(f, 0, 40);
  f[40] = 1; /* expect: Invalid write */

  /* Uninitialised: fresh malloc, and the tail realloc added (the copy
   * moves only the 20 bytes of the block, not the slot's 32: the last
   * word would be an invalid read inside realloc). */
  char *g = malloc(16);
  if (g[3] == 42) /* expect: Conditional jump */
    puts("42");
  char *h = malloc(20);
  memset(h, 'a', 20);
  h = realloc(h, 1000); /* moves */
  if (h[19] != 'a')
    abort();
  if (h[26] == 42) /* expect: Conditional jump */
    puts("42");

  /* realloc in place (same class, 112): shrinking makes the tail
   * unaddressable, growing makes it undefined. */
  char *k = malloc(100);
  memset(k, 0, 100);
  k = realloc(k, 90);
  sink = k[95]; /* expect: Invalid read */
  k = realloc(k, 110);
  k[105] = 1;
  if (k[50] != 0)
    abort();

  /* calloc is defined, freshly mapped or reused. */
  for (int i = 0; i < 300; i++) {
    char *x = malloc(48);
    memset(x, 7, 48);
    free(x);
  }
  for (int i = 0; i < 300; i++) {
    char *x = calloc(6, 8);
    if (x[47] != 0)
      abort();
    free(x);
  }
  char *y = calloc(1, 300000);
  if (y[299999] != 0)
    abort();

  /* Plain frees of everything still held. */
  free(d);
  free(e);
  free(f);
  free(g);
  free(h);
  free(k);
  free(y);
  puts("heap_errors: done");
  return 0;
}
