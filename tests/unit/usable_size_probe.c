/* usable_size_probe SIZE...: prints gm_usable_size(gm_malloc(SIZE)) for each
 * SIZE, one a line, in a process whose GOMALLOC_* variables the caller set
 * (CTest cli.sizeclasses_fit: a fitted table loaded at start). Debug builds
 * print "debug": their usable size is the request, not the slot. */
#include "gomalloc.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (GM_DEBUG) {
    puts("debug");
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    void *p = gm_malloc(strtoul(argv[i], NULL, 10));
    printf("%zu\n", gm_usable_size(p));
    gm_free(p);
  }
  return 0;
}
