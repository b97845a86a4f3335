/* The program tests/preload/heaptrack.sh profiles: 1000 temporary blocks
 * and 10 leaked ones of 4 KiB, each from its own function, so heaptrack's
 * report can be checked by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *gm_leaked[10];

__attribute__((noinline)) void *gm_temporary_block(size_t n) {
  char *p = malloc(n);
  if (p)
    memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void *gm_leaked_block(void) {
  char *p = malloc(4096);
  if (p)
    memset(p, 2, 4096);
  return p;
}

int main(void) {
  for (int i = 0; i < 1000; i++)
    free(gm_temporary_block(100 + (size_t)i));
  for (int i = 0; i < 10; i++)
    gm_leaked[i] = gm_leaked_block();
  memset(gm_leaked, 0, sizeof gm_leaked); /* leaked for good */
  puts("done");
  return 0;
}
