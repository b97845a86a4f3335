/* gm_stats, single-threaded: after randomized workloads the numbers add
 * up, agree with the census, count exactly the mallocs and frees made,
 * and the in-use bytes are the sum of the live blocks' class sizes. Also
 * the rounding estimate, the versioned struct and the text printer. */
#include "stats_check.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 30000

/* The printer's output into a stdio stream (here an open_memstream). */
static void to_file(void *arg, const char *s, size_t n) { fwrite(s, 1, n, arg); }

static void *blk[SLOTS];
static uint64_t live_bytes, live_objs;
static uint64_t n_alloc[GM_STATS_NUM_CLASSES], n_free[GM_STATS_NUM_CLASSES];

static size_t random_size(unsigned long long *rs) {
  unsigned long long r = unit_rand(rs);
  switch (r % 16) {
  case 0:
    return 32769 + (size_t)(unit_rand(rs) % (1u << 20)); /* large */
  case 1:
  case 2:
    return 1024 + (size_t)(unit_rand(rs) % 31744);
  default:
    return (size_t)(unit_rand(rs) % 1025);
  }
}

static void do_alloc(int i, size_t size, bool zero) {
  void *p = zero ? gm_calloc(1, size) : gm_malloc(size);
  CHECK(p != NULL, "malloc(%zu)", size);
  blk[i] = p;
  live_bytes += block_bytes(p);
  live_objs++;
  n_alloc[class_of_block(p)]++;
}

static void do_free(int i) {
  live_bytes -= block_bytes(blk[i]);
  live_objs--;
  n_free[class_of_block(blk[i])]++;
  gm_free(blk[i]);
  blk[i] = NULL;
}

/* Compare a stats result with what the test itself did since base. */
static void check_against_model(const struct gm_stats *base, const struct gm_stats *st,
                                const char *when) {
  check_quiescent(st, when);
  CHECK(st->object_bytes - base->object_bytes == live_bytes,
        "%s: in-use bytes grew by %llu, live blocks' sizes sum to %llu", when,
        (unsigned long long)(st->object_bytes - base->object_bytes),
        (unsigned long long)live_bytes);
  CHECK(st->objects - base->objects == live_objs, "%s: objects %llu, expected %llu", when,
        (unsigned long long)(st->objects - base->objects), (unsigned long long)live_objs);
  for (unsigned k = 0; k < GM_STATS_NUM_CLASSES; k++) {
    CHECK(st->classes[k].allocs - base->classes[k].allocs == n_alloc[k],
          "%s: class %u: %llu allocs counted, %llu made", when, k,
          (unsigned long long)(st->classes[k].allocs - base->classes[k].allocs),
          (unsigned long long)n_alloc[k]);
    CHECK(st->classes[k].frees - base->classes[k].frees == n_free[k],
          "%s: class %u: %llu frees counted, %llu made", when, k,
          (unsigned long long)(st->classes[k].frees - base->classes[k].frees),
          (unsigned long long)n_free[k]);
  }
}

static struct gm_stats base, st;

int main(void) {
  take_stats(&base);
  check_quiescent(&base, "start");

  /* Rounding: every request in class 9 (112 B) is for 100 B, so the
   * sampled mean is exact and the estimate is 12 B per live object. */
  unsigned c9 = gm_size_to_class(100);
  CHECK(gm_class_to_size[c9] == 112, "class of 100 B is %u B", gm_class_to_size[c9]);
  for (int i = 0; i < 2000; i++)
    do_alloc(i, 100, false);
  take_stats(&st);
  check_against_model(&base, &st, "rounding");
  CHECK(st.classes[c9].samples > 0, "no samples in class %u", c9);
  /* (Debug builds ask the class for 108 bytes: 100 and the trailer.) */
  CHECK(st.classes[c9].rounding_waste_bytes == st.classes[c9].objects * (GM_DEBUG ? 4 : 12),
        "rounding estimate %llu, expected %llu", (unsigned long long)st.classes[c9].rounding_waste_bytes,
        (unsigned long long)(st.classes[c9].objects * (GM_DEBUG ? 4 : 12)));
  for (int i = 0; i < 2000; i++)
    do_free(i);

  /* Randomized workload: rounds of mallocs, callocs and frees, checked
   * after each round with spans still cached, then after a flush and a
   * release. */
  unsigned long long rs = unit_seed();
  for (int round = 0; round < 6; round++) {
    for (int n = 0; n < 40000; n++) {
      int i = (int)(unit_rand(&rs) % SLOTS);
      if (blk[i])
        do_free(i);
      else
        do_alloc(i, random_size(&rs), unit_rand(&rs) % 8 == 0);
    }
    char when[32];
    snprintf(when, sizeof when, "round %d", round);
    take_stats(&st);
    check_against_model(&base, &st, when);
    if (round == 2) {
      gm_thread_flush();
      take_stats(&st);
      check_against_model(&base, &st, "after flush");
      CHECK(st.cached_spans == 0, "cached spans after flush: %llu",
            (unsigned long long)st.cached_spans);
    }
    if (round == 4) {
      gm_release();
      take_stats(&st);
      check_against_model(&base, &st, "after release");
      CHECK(st.released_bytes > 0 || st.free_bytes == 0, "nothing released");
    }
  }
  CHECK(st.threads >= 1, "threads %llu", (unsigned long long)st.threads);
  CHECK(st.arenas >= 1 && st.reserved_bytes >= st.arenas * (64ull << 20), "arenas");
  CHECK(st.metadata_bytes > 0, "metadata bytes");
  CHECK(st.resident_bytes > 0, "resident bytes");

  /* Free everything: back to the start. */
  for (int i = 0; i < SLOTS; i++)
    if (blk[i])
      do_free(i);
  take_stats(&st);
  check_against_model(&base, &st, "all freed");
  CHECK(st.objects == base.objects, "objects left: %llu", (unsigned long long)st.objects);

  /* Versioned struct: a shorter caller struct is filled up to its size. */
  struct gm_stats part;
  memset(&part, 0x5a, sizeof part);
  part.size = (uint32_t)offsetof(struct gm_stats, classes);
  CHECK(gm_stats(&part) == 0, "short gm_stats failed");
  CHECK(part.size == offsetof(struct gm_stats, classes) && part.version == GM_STATS_VERSION,
        "short: size %u version %u", part.size, part.version);
  CHECK(part.spans == st.spans, "short: spans %llu", (unsigned long long)part.spans);
  unsigned char *tailb = (unsigned char *)&part.classes;
  CHECK(tailb[0] == 0x5a && tailb[sizeof part.classes - 1] == 0x5a, "short: wrote past size");
  struct gm_stats hdr;
  memset(&hdr, 0, sizeof hdr);
  hdr.size = 8;
  CHECK(gm_stats(&hdr) == 0 && hdr.version == GM_STATS_VERSION && hdr.size == 8 &&
            hdr.reserved_bytes == 0,
        "header-only call");
  hdr.size = 4;
  errno = 0;
  CHECK(gm_stats(&hdr) == -1 && errno == EINVAL, "size 4 accepted");
  errno = 0;
  CHECK(gm_stats(NULL) == -1 && errno == EINVAL, "NULL accepted");

  /* The text report: Go's columns, live columns, totals, human sizes. */
  for (int i = 0; i < 100; i++)
    do_alloc(i, 100 + (size_t)i * 50, false);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CHECK(gm_print_stats_to(to_file, f) == 0, "gm_print_stats_to failed");
  fclose(f);
  CHECK(buf && strstr(buf, "class  bytes/obj  bytes/span  objects  tail waste  max waste |"),
        "no table header:\n%s", buf);
  CHECK(strstr(buf, "spans     in use       free    util       waste") != NULL,
        "no live columns");
  CHECK(strstr(buf, "heap totals") && strstr(buf, "reserved") && strstr(buf, "mapped") &&
            strstr(buf, "metadata") && strstr(buf, "released"),
        "no totals");
  CHECK(strstr(buf, " MiB") != NULL, "no human-readable sizes");
  /* Class 9's row carries Go's numbers (112 B, 8192 B, 73, 16, 13.56%). */
  const char *row = strstr(buf, "\n    9  ");
  unsigned cls = 0, osz = 0, ssz = 0, nobj = 0, tw = 0, spans = 0, inuse = 0;
  double mw = 0;
  CHECK(row && sscanf(row, "%u %u %u %u %u %lf%% | %u %u", &cls, &osz, &ssz, &nobj, &tw, &mw,
                      &spans, &inuse) == 8,
        "class 9 row unreadable");
  CHECK(cls == 9 && osz == 112 && ssz == 8192 && nobj == 73 && tw == 16 && mw == 13.56,
        "class 9 row: %u %u %u %u %u %.2f", cls, osz, ssz, nobj, tw, mw);
  printf("%s", buf);
  free(buf);
  for (int i = 0; i < 100; i++)
    do_free(i);
  return check_summary();
}
