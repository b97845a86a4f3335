/* heapmap_prog: builds a heap with a bit of everything, writes its heap
 * map the way GOMALLOC_HEAPMAP does at exit (a heap dump with
 * gm_write_heap_dump, FILE.html.dump, drawn by the tools' renderer) and
 * prints how many spans and chunks the map must show, counted
 * independently by the census:
 *   spans=N chunks=M
 * Usage: heapmap_prog [--many] FILE.html
 *   --many: more than 20000 spans, so the map draws per-chunk summaries. */
#include "gomalloc.h"
#include "heapmap_render.h"
#include "stats.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *keep[60000];

int main(int argc, char **argv) {
  int many = argc == 3 && strcmp(argv[1], "--many") == 0;
  if (argc != 2 + many) {
    fprintf(stderr, "usage: heapmap_prog [--many] FILE.html\n");
    return 2;
  }
  const char *path = argv[argc - 1];
  size_t n = 0;
  unsigned long long x = 88172645463325252ULL;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
  if (many) {
    /* 8 KiB objects are one per one-page span: 20500 spans. */
    for (int i = 0; i < 20500; i++)
      keep[n++] = gm_malloc(8192);
  }
  /* Small objects of many classes, some spans partly freed. */
  for (int i = 0; i < 30000; i++)
    keep[n++] = gm_malloc((size_t)(RND() % 2048) + 1);
  for (size_t i = n - 30000; i < n; i++)
    if (RND() % 3 == 0) {
      gm_free(keep[i]);
      keep[i] = NULL;
    }
  /* Large blocks, every other one freed: free page runs between them. */
  for (int i = 0; i < 40; i++)
    keep[n++] = gm_malloc(40000 + (size_t)(RND() % 400000));
  for (size_t i = n - 40; i < n; i += 2) {
    gm_free(keep[i]);
    keep[i] = NULL;
  }
  /* A big block freed and released: scavenged pages. */
  void *big = gm_malloc(6 << 20);
  gm_free(big);
  gm_release();
  /* Some more small objects after the release, so spans are also cached. */
  for (int i = 0; i < 500; i++)
    keep[n++] = gm_malloc(48);

  gm_census_t c;
  gm_heap_census(&c);
  if (c.error) {
    fprintf(stderr, "heapmap_prog: census: %s\n", c.error);
    return 1;
  }
  /* The renderer runs on glibc's malloc (this program links the
   * no-override library), so drawing leaves the heap as it was. */
  char dump[4096], err[1024];
  snprintf(dump, sizeof dump, "%s.dump", path);
  int fd = open(dump, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || gm_write_heap_dump(fd) != 0 || close(fd) != 0) {
    perror("gm_write_heap_dump");
    return 1;
  }
  if (gm_heapmap_render_file(dump, path, err, sizeof err) != 0) {
    fprintf(stderr, "heapmap_prog: %s\n", err);
    return 1;
  }
  unlink(dump);
  printf("spans=%zu chunks=%zu\n", c.small_spans + c.large_spans, c.total_pages / 512);
  return 0;
}
