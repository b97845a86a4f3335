/* A program built against an installed gomalloc (tests/package): prints
 * "gomalloc <version> ok" if gm_version() is the expected one and malloc
 * is gomalloc's (a malloc'd block shows up in gm_stats and gm_usable_size
 * knows it; a glibc block would make gm_usable_size abort). */
#include <gomalloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *want = argc > 1 ? argv[1] : "";
  struct gm_stats before = {.size = sizeof before}, after = {.size = sizeof after};
  if (gm_stats(&before) != 0)
    return 1;
  char *p = malloc(100);
  if (!p || gm_stats(&after) != 0)
    return 1;
  memset(p, 1, 100);
  int ok = strcmp(gm_version(), want) == 0 && after.objects > before.objects &&
           gm_usable_size(p) >= 100;
  printf("gomalloc %s %s (objects %llu -> %llu)\n", gm_version(), ok ? "ok" : "FAILED",
         (unsigned long long)before.objects, (unsigned long long)after.objects);
  free(p);
  return ok ? 0 : 1;
}
