/* test_window.c: free's one-load span lookup covers the heap's window
 * (arena.h); arenas the kernel puts anywhere else must work the same way,
 * through the arena map.
 *
 * The test takes the window's first arena address before the heap reserves
 * anything, so every arena lands outside the window. Then, for blocks of
 * every class and some large ones: the window lookup must not see them,
 * the arena map must find their span, and malloc/free/realloc must keep
 * every block's contents (a pattern checked on free) across several rounds
 * in which freed slots are reused. Freeing an interior pointer of such a
 * block must still be refused (checked in a child, which must abort). */
#include "unit.h"

#include "arena.h"
#include "gomalloc.h"
#include "sizeclasses.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NBLK 4000

/* The pattern follows the block's slot k, not its address: realloc may
 * move it. */
static unsigned char pat(size_t k, size_t i) { return (unsigned char)(k * 31 + i * 7 + (i >> 8)); }

static void fill(unsigned char *p, size_t k, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = pat(k, i);
}

static int intact(const unsigned char *p, size_t k, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != pat(k, i))
      return 0;
  return 1;
}

static size_t size_of(unsigned long long *rs) {
  unsigned long long r = unit_rand(rs);
  if (r % 50 == 0)
    return 33000 + (size_t)(r >> 8) % 300000; /* large */
  return gm_class_to_size[1 + (r >> 8) % (GM_NUM_CLASSES - 1)] - (size_t)(r >> 20) % 8;
}

int main(void) {
  CHECK(gm_arena_count() == 0, "the heap reserved %zu arenas before main", gm_arena_count());
  void *block = mmap((void *)gm_window_base, GM_ARENA_BYTES, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  /* Sanitizer shadow memory may hold the address already: then the heap
   * cannot be there either, and the test holds as it is. */
  CHECK(block == (void *)gm_window_base || (block == MAP_FAILED && errno == EEXIST),
        "could not take the window's first arena (%p)", block);

  static unsigned char *blk[NBLK];
  static size_t len[NBLK];
  unsigned long long rs = 42;
  size_t nmalloc = 0, outside = 0, lost = 0, bad = 0;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < NBLK; i++) {
      if (blk[i]) {
        if (!intact(blk[i], (size_t)i, len[i]))
          bad++;
        if (unit_rand(&rs) % 4 == 0) {
          size_t n = size_of(&rs);
          unsigned char *q = gm_realloc(blk[i], n);
          CHECK(q != NULL, "realloc to %zu failed", n);
          if (!intact(q, (size_t)i, len[i] < n ? len[i] : n))
            bad++;
          blk[i] = q;
          len[i] = n;
          fill(q, (size_t)i, n);
          continue;
        }
        gm_free(blk[i]);
      }
      len[i] = size_of(&rs);
      blk[i] = gm_malloc(len[i]);
      CHECK(blk[i] != NULL, "malloc(%zu) failed", len[i]);
      fill(blk[i], (size_t)i, len[i]);
      uintptr_t a = (uintptr_t)blk[i];
      nmalloc++;
      if (gm_window_span(a) == NULL)
        outside++;
      if (gm_span_of(a) == NULL)
        lost++;
    }
  }
  CHECK(nmalloc > NBLK && outside == nmalloc, "%zu of %zu blocks are outside the window", outside,
        nmalloc);
  CHECK(lost == 0, "the arena map lost %zu blocks", lost);
  CHECK(bad == 0, "%zu blocks changed", bad);

  /* An interior pointer of a small block outside the window: abort. */
  unsigned char *p = gm_malloc(100);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
      dup2(devnull, 2);
    gm_free(p + 16);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "interior free outside the window: status %#x",
        st);
  gm_free(p);

  for (int i = 0; i < NBLK; i++) {
    if (!intact(blk[i], (size_t)i, len[i]))
      bad++;
    gm_free(blk[i]);
  }
  CHECK(bad == 0, "%zu blocks changed at the end", bad);
  if (block != MAP_FAILED)
    munmap(block, GM_ARENA_BYTES);
  return check_summary();
}
