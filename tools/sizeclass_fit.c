/* sizeclass_fit.c: size classes fitted to one program's request sizes.
 *
 * The candidates are the sizes Go's generator steps through (its steps from
 * 128 B up, 16 B below, or 8 B for GOMALLOC_ALIGN8), plus Go's own classes,
 * each with the span Go's rule gives it (the fewest 8 KiB pages with tail
 * waste <= 12.5%), kept if the loader would accept it. Out of them a dynamic
 * program over "the class before this one" picks at most 67 ending at
 * 32768 B that minimise the histogram's rounding waste, sum of
 * count * (class size - request size), exactly.
 *
 * Two rules keep the table sane for the sizes the profile never asked for
 * (another run, another input): the first class is at most 16 B, and each
 * class is at most 16 B or a quarter above the one before, so such a size
 * loses under 20% to rounding (Go's classes lose up to 19%, at 4864 B). Go's
 * table obeys both and is among the candidates, so the fit never wastes
 * more than Go's classes on the histogram. Ties, and the classes the
 * histogram leaves free, go to the least relative rounding loss over every
 * size weighted 1/size (each octave alike), which spaces them as Go's are. */
#define _XOPEN_SOURCE 700 /* open_memstream */
#include "sizeclass_fit.h"

#include "sizeclass.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the histogram ---------------------------------------------------------------- */

/* Column i of a tab-separated line (split in place into f[]); the count. */
static int split_tabs(char *line, char **f, int cap) {
  int n = 0;
  for (char *p = line;; p++) {
    if (n < cap)
      f[n] = p;
    n++;
    p = strchr(p, '\t');
    if (!p)
      break;
    *p = 0;
  }
  return n;
}

static bool whole(const char *s, unsigned long long *v) {
  char *end;
  errno = 0;
  *v = strtoull(s, &end, 10);
  return s[0] >= '0' && s[0] <= '9' && *end == 0 && errno == 0;
}

/* docs/profile-format.md: a header naming the columns (lo, hi, count, and
 * others we ignore), then one row per size up to 32768 (lo == hi) and
 * buckets above. */
int fit_read_hist(const char *dir, fit_hist_t *h, char *err, size_t errlen) {
  char path[4096];
  memset(h, 0, sizeof *h);
  if (snprintf(path, sizeof path, "%s/sizes.tsv", dir) >= (int)sizeof path) {
    snprintf(err, errlen, "%s: path too long", dir);
    return -1;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  enum { MAXCOL = 32 };
  char line[1024], *col[MAXCOL];
  unsigned lineno = 0;
  int lo_at = -1, hi_at = -1, count_at = -1, ncols = 0;
  const char *why = NULL;
  while (!why && fgets(line, sizeof line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n')
      line[--len] = 0;
    else if (!feof(f)) {
      why = "line too long";
      break;
    }
    int n = split_tabs(line, col, MAXCOL);
    if (lineno == 1) {
      ncols = n;
      for (int i = 0; i < n && i < MAXCOL; i++) {
        if (strcmp(col[i], "lo") == 0)
          lo_at = i;
        else if (strcmp(col[i], "hi") == 0)
          hi_at = i;
        else if (strcmp(col[i], "count") == 0)
          count_at = i;
      }
      if (lo_at < 0 || hi_at < 0 || count_at < 0)
        why = "expected a header line naming the columns lo, hi and count";
      continue;
    }
    unsigned long long lo, hi, count;
    if (n != ncols)
      why = "not as many fields as the header has columns";
    else if (!whole(col[lo_at], &lo) || !whole(col[hi_at], &hi) || !whole(col[count_at], &count))
      why = "lo, hi and count must be whole numbers";
    else if (hi < lo)
      why = "hi below lo";
    else if (lo > GM_MAX_SMALL_SIZE)
      h->large += count;
    else if (hi != lo)
      why = "a bucket of several sizes below 32769 (each small size has its own row)";
    else if (h->count[lo] + count < count || h->bytes + lo * count < h->bytes)
      why = "counts overflow";
    else {
      h->count[lo] += count;
      h->requests += count;
      h->bytes += lo * count;
    }
  }
  if (why)
    snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
  else if (ferror(f))
    snprintf(err, errlen, "%s: read error", path);
  else if (lineno == 0)
    snprintf(err, errlen, "%s: empty", path);
  else if (h->requests == 0)
    snprintf(err, errlen, "%s: no requests of %d B or less", path, GM_MAX_SMALL_SIZE);
  bool failed = why || ferror(f) || lineno == 0 || h->requests == 0;
  fclose(f);
  return failed ? -1 : 0;
}

/* ---- the waste -------------------------------------------------------------------- */

/* malloc's lookup rule (sizeclass.c): requests of 16 B or more need a
 * 16-byte aligned class unless align8. */
static bool serves(int cls_size, int size, bool align8) {
  return cls_size >= size && (align8 || size < 16 || cls_size % 16 == 0);
}

uint64_t fit_waste(const fit_hist_t *h, const struct sclass *c, int n, bool align8) {
  uint64_t w = 0;
  int k = 1;
  for (int s = 0; s <= GM_MAX_SMALL_SIZE; s++) {
    while (k < n && c[k].size < s)
      k++;
    int j = k;
    while (j < n && !serves(c[j].size, s, align8))
      j++;
    if (j < n && h->count[s])
      w += h->count[s] * (uint64_t)(c[j].size - s);
  }
  return w;
}

/* ---- the fit ---------------------------------------------------------------------- */

#define MAX_CAND (GM_MAX_SMALL_SIZE / 8 + GM_NUM_CLASSES + 1)
#define NO_PREV (-1)

struct cost {
  uint64_t waste; /* the histogram's */
  double rel;     /* every size s with weight 1/s: sum of (class - s) / (class * s) */
};

static bool cheaper(struct cost a, struct cost b) {
  return a.waste < b.waste || (a.waste == b.waste && a.rel < b.rel - 1e-9);
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* The candidates: the grid, Go's classes, deduplicated, each kept if the
 * loader accepts its geometry. */
static int candidates(int *cand, bool align8, bool fine) {
  int n = rules_candidates(cand, MAX_CAND, align8 ? 8 : 16, fine);
  struct sclass go[GM_MAX_SMALL_SIZE / 8 + 1];
  int ngo = rules_derive_go(go, (int)(sizeof go / sizeof go[0]));
  if (n < 0 || ngo < 0)
    return -1;
  for (int i = 1; i < ngo && n < MAX_CAND; i++)
    if (align8 || go[i].size < 16 || go[i].size % 16 == 0)
      cand[n++] = go[i].size;
  qsort(cand, (size_t)n, sizeof cand[0], cmp_int);
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m && cand[m - 1] == cand[i])
      continue;
    int np = rules_npages(cand[i]);
    if (gm_sizeclass_check_class((uint32_t)cand[i], (uint32_t)(np * (int)GM_PAGE_SIZE), 0))
      continue;
    cand[m++] = cand[i];
  }
  return m;
}

/* May a class of size follow one of prev (0: size is the first class)? */
static bool step_ok(int prev, int size) { return size - prev <= 16 || 4 * (size - prev) <= prev; }

int fit_classes(const fit_hist_t *h, bool align8, bool fine, struct sclass *c) {
  static int cand[MAX_CAND];
  int m = candidates(cand, align8, fine);
  if (m <= 0 || cand[m - 1] != GM_MAX_SMALL_SIZE)
    return -1;

  /* Prefix sums over sizes: N[x + 1] requests and B[x + 1] bytes of size
   * <= x, exact in 64 bits (reading checked the byte total for overflow). */
  static uint64_t N[GM_MAX_SMALL_SIZE + 2], B[GM_MAX_SMALL_SIZE + 2];
  for (int s = 0; s <= GM_MAX_SMALL_SIZE; s++) {
    N[s + 1] = N[s] + h->count[s];
    B[s + 1] = B[s] + h->count[s] * (uint64_t)s;
  }
  /* H[x + 1]: sum of 1/s over sizes 1..x, for the tie-breaker below. */
  static double H[GM_MAX_SMALL_SIZE + 2];
  for (int s = 0; s <= GM_MAX_SMALL_SIZE; s++)
    H[s + 1] = H[s] + (s ? 1.0 / s : 0.0);
  /* Sizes (lo, hi] rounded to hi; lo = -1 takes in malloc(0). The
   * tie-breaker is the relative loss (hi - s) / hi with every size weighted
   * 1/s (as likely in each octave): the spacing Go's geometric classes have. */
#define SEG_COST(lo, hi)                                                                           \
  ((struct cost){(uint64_t)(hi) * (N[(hi) + 1] - N[(lo) + 1]) - (B[(hi) + 1] - B[(lo) + 1]),        \
                 (H[(hi) + 1] - H[(lo) + 1]) - (double)((hi) - ((lo) < 0 ? 0 : (lo))) / (hi)})

  enum { K = GM_NUM_CLASSES - 1 };
  static struct cost best[K + 1][MAX_CAND];
  static short from[K + 1][MAX_CAND];
  static bool reach[K + 1][MAX_CAND];
  memset(reach, 0, sizeof reach);
  for (int j = 0; j < m; j++)
    if (step_ok(0, cand[j])) {
      reach[1][j] = true;
      best[1][j] = SEG_COST(NO_PREV, cand[j]);
      from[1][j] = NO_PREV;
    }
  for (int k = 2; k <= K; k++)
    for (int j = 0; j < m; j++)
      /* Nearest first: step_ok fails for every class below the first one it fails for. */
      for (int i = j - 1; i >= 0 && step_ok(cand[i], cand[j]); i--) {
        if (!reach[k - 1][i])
          continue;
        struct cost seg = SEG_COST(cand[i], cand[j]);
        struct cost t = {best[k - 1][i].waste + seg.waste, best[k - 1][i].rel + seg.rel};
        if (!reach[k][j] || !cheaper(best[k][j], t)) { /* ties: the lower previous class */
          reach[k][j] = true;
          best[k][j] = t;
          from[k][j] = (short)i;
        }
      }
#undef SEG_COST
  int kbest = 0;
  for (int k = 1; k <= K; k++)
    if (reach[k][m - 1] && (!kbest || cheaper(best[k][m - 1], best[kbest][m - 1])))
      kbest = k;
  if (!kbest)
    return -1;
  c[0] = (struct sclass){0, 0};
  for (int k = kbest, j = m - 1; k >= 1; j = from[k][j], k--)
    c[k] = (struct sclass){cand[j], rules_npages(cand[j])};
  return kbest + 1;
}

void fit_print_tsv(FILE *f, const struct sclass *c, int n) {
  fputs("class\tbytes_obj\tbytes_span\tobjects\ttail_waste\tmax_waste_percent\tmin_align\n", f);
  fputs("0\t0\t0\t0\t0\t0.00\t0\n", f);
  for (int i = 1; i < n; i++) {
    int span = c[i].npages * (int)GM_PAGE_SIZE, objects = span / c[i].size;
    int tail = span - objects * c[i].size;
    int bits = __builtin_ctz((unsigned)c[i].size);
    /* Worst case: every object holds a request one byte above the previous class. */
    double max_waste = (double)((c[i].size - c[i - 1].size - 1) * objects + tail) / (double)span;
    fprintf(f, "%d\t%d\t%d\t%d\t%d\t%.2f\t%d\n", i, c[i].size, span, objects, tail, 100 * max_waste,
            1 << (bits > GM_PAGE_SHIFT ? GM_PAGE_SHIFT : bits));
  }
}

/* ---- the command ------------------------------------------------------------------ */

/* --fit DIR: the table on stdout, loadable as it is (# lines are comments). */
int fit_sizeclasses(const char *dir, bool align8, bool fine) {
  static fit_hist_t h;
  static struct sclass go[GM_NUM_CLASSES], fit[GM_NUM_CLASSES];
  char err[4200];
  if (fit_read_hist(dir, &h, err, sizeof err) != 0) {
    fprintf(stderr, "gomalloc sizeclasses: %s\n", err);
    return 1;
  }
  int ngo = rules_derive_go(go, GM_NUM_CLASSES), n = fit_classes(&h, align8, fine, fit);
  if (ngo != GM_NUM_CLASSES || n < 2) {
    fprintf(stderr, "gomalloc sizeclasses: no table fits the rules (a bug)\n");
    return 1;
  }
  /* The loader must accept what we print: check it the same way. */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem)
    return 1;
  fit_print_tsv(mem, fit, n);
  fclose(mem);
  static gm_sizeclass_table_t t;
  unsigned line;
  const char *why = gm_sizeclass_parse(text, len, &t, &line);
  if (why) {
    fprintf(stderr, "gomalloc sizeclasses: the fitted table fails the loader at line %u: %s (a bug)\n",
            line + 1, why);
    free(text);
    return 1;
  }
  uint64_t wgo = fit_waste(&h, go, ngo, align8), wfit = fit_waste(&h, fit, n, align8);
  double req = (double)(h.bytes ? h.bytes : 1);
  printf("# gomalloc sizeclasses --fit %s%s%s: %d classes for %" PRIu64 " requests of 0-%d B"
         " (%" PRIu64 " B requested; %" PRIu64 " larger requests are not rounded to a class)\n",
         dir, fine ? " --fine" : "", align8 ? " --align8" : "", n - 1, h.requests, GM_MAX_SMALL_SIZE, h.bytes, h.large);
  printf("# rounding waste with Go's classes:  %" PRIu64 " B (%.2f%% of the bytes requested)\n", wgo,
         100.0 * (double)wgo / req);
  printf("# rounding waste with these classes: %" PRIu64 " B (%.2f%%), %.1f%% less than Go's\n",
         wfit, 100.0 * (double)wfit / req,
         wgo ? 100.0 * (double)(wgo - wfit) / (double)wgo : 0.0);
  printf("# use: GOMALLOC_SIZECLASSES=<this file>%s\n", align8 ? " GOMALLOC_ALIGN8=1" : "");
  fwrite(text, 1, len, stdout);
  free(text);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "gomalloc sizeclasses: write to stdout failed\n");
    return 1;
  }
  return 0;
}
