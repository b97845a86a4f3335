/* report_load.c: reading a profile directory for `gomalloc report` (see
 * report.h; the format is docs/profile-format.md), and the subcommand.
 * Columns are found by name; unknown keys and columns are skipped, as the
 * format asks of readers. */
#define _GNU_SOURCE
#include "report.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

static char *read_line(FILE *f, char **buf, size_t *cap) {
  ssize_t n = getline(buf, cap, f);
  if (n < 0)
    return NULL;
  while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
    (*buf)[--n] = 0;
  return *buf;
}

/* Split s at tabs in place; at most max fields. */
static size_t split(char *s, char **f, size_t max) {
  size_t n = 0;
  while (n < max) {
    f[n++] = s;
    char *t = strchr(s, '\t');
    if (!t)
      break;
    *t = 0;
    s = t + 1;
  }
  return n;
}

static FILE *open_in(const rp_profile_t *p, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", p->dir, name);
  return fopen(path, "r");
}

static int load_meta(rp_profile_t *p, char *err, size_t errlen) {
  FILE *f = open_in(p, "meta");
  if (!f) {
    snprintf(err, errlen, "%s/meta: %s (not a profile directory?)", p->dir, strerror(errno));
    return -1;
  }
  char *line = NULL, *fl[8];
  size_t cap = 0;
  int format_ok = 0;
  p->nclasses = 1; /* class lines come in order from 1 */
  while (read_line(f, &line, &cap)) {
    size_t n = split(line, fl, 8);
    if (n < 2)
      continue;
    const char *k = fl[0], *v = fl[1];
    if (strcmp(k, "format") == 0)
      format_ok = strcmp(v, "gomalloc-profile 1") == 0;
    else if (strcmp(k, "program") == 0)
      snprintf(p->program, sizeof p->program, "%s", v);
    else if (strcmp(k, "cmdline") == 0)
      snprintf(p->cmdline, sizeof p->cmdline, "%s", v);
    else if (strcmp(k, "version") == 0)
      snprintf(p->version, sizeof p->version, "%s", v);
    else if (strcmp(k, "pid") == 0)
      p->pid = strtol(v, NULL, 10);
    else if (strcmp(k, "start_unix") == 0)
      p->start_unix = strtod(v, NULL);
    else if (strcmp(k, "interval_ms") == 0)
      p->interval_ms = strtoull(v, NULL, 10);
    else if (strcmp(k, "align8") == 0)
      p->align8 = atoi(v);
    else if (strcmp(k, "page_size") == 0)
      p->page_size = strtoull(v, NULL, 10);
    else if (strcmp(k, "end_ms") == 0) {
      p->end_ms = strtod(v, NULL);
      p->complete = 1;
    } else if (strcmp(k, "samples") == 0)
      p->samples = strtoull(v, NULL, 10);
    else if (strcmp(k, "requests") == 0)
      p->requests = strtoull(v, NULL, 10);
    else if (strcmp(k, "heap_dump") == 0)
      snprintf(p->dump, sizeof p->dump, "%s/%s", p->dir, v);
    else if (strcmp(k, "class") == 0 && n >= 5) {
      unsigned c = (unsigned)strtoul(fl[1], NULL, 10);
      if (c == 0 || c >= RP_MAX_CLASSES || c != p->nclasses) {
        snprintf(err, errlen, "%s/meta: class %s out of order", p->dir, fl[1]);
        free(line);
        fclose(f);
        return -1;
      }
      p->cls[c].size = strtoull(fl[2], NULL, 10);
      p->cls[c].span = strtoull(fl[3], NULL, 10);
      p->cls[c].objects = strtoull(fl[4], NULL, 10);
      p->nclasses = c + 1;
    }
  }
  free(line);
  fclose(f);
  if (!format_ok) {
    snprintf(err, errlen, "%s/meta: not a gomalloc profile of format 1", p->dir);
    return -1;
  }
  if (p->nclasses < 2) {
    snprintf(err, errlen, "%s/meta: no size-class table", p->dir);
    return -1;
  }
  for (unsigned c = 2; c < p->nclasses; c++)
    if (p->cls[c].size <= p->cls[c - 1].size) {
      snprintf(err, errlen, "%s/meta: class sizes not increasing at class %u", p->dir, c);
      return -1;
    }
  for (uint64_t n = p->cls[p->nclasses - 1].size + 1; n-- > 0;) {
    rp_class_t *k = &p->cls[rp_class_of(p, n)];
    if (!k->serve_hi)
      k->serve_hi = n;
    k->serve_lo = n;
  }
  return 0;
}

unsigned rp_class_of(const rp_profile_t *p, uint64_t n) {
  for (unsigned c = 1; c < p->nclasses; c++)
    if (p->cls[c].size >= n && (n <= 16 || p->align8 || p->cls[c].size % 16 == 0))
      return c;
  return 0;
}

static int load_sizes(rp_profile_t *p, char *err, size_t errlen) {
  FILE *f = open_in(p, "sizes.tsv");
  if (!f) /* a run that never reached exit */
    return 0;
  char *line = NULL, *fl[16];
  size_t cap = 0, cap_sizes = 0;
  int col[4] = {-1, -1, -1, -1};
  static const char *const want[4] = {"lo", "hi", "count", "bytes"};
  int rc = 0;
  if (read_line(f, &line, &cap)) {
    size_t n = split(line, fl, 16);
    for (size_t i = 0; i < n; i++)
      for (int k = 0; k < 4; k++)
        if (strcmp(fl[i], want[k]) == 0)
          col[k] = (int)i;
  }
  for (int k = 0; k < 4; k++)
    if (col[k] < 0) {
      snprintf(err, errlen, "%s/sizes.tsv: no column '%s'", p->dir, want[k]);
      rc = -1;
      goto out;
    }
  while (read_line(f, &line, &cap)) {
    size_t n = split(line, fl, 16);
    if (n <= (size_t)col[0] || n <= (size_t)col[1] || n <= (size_t)col[2] ||
        n <= (size_t)col[3])
      continue;
    if (p->nsizes == cap_sizes) {
      cap_sizes = cap_sizes ? 2 * cap_sizes : 1024;
      rp_size_t *s = realloc(p->sizes, cap_sizes * sizeof *s);
      if (!s) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
      }
      p->sizes = s;
    }
    rp_size_t *s = &p->sizes[p->nsizes++];
    s->lo = strtoull(fl[col[0]], NULL, 10);
    s->hi = strtoull(fl[col[1]], NULL, 10);
    s->count = strtoull(fl[col[2]], NULL, 10);
    s->bytes = strtoull(fl[col[3]], NULL, 10);
    unsigned c = s->lo == s->hi ? rp_class_of(p, s->lo) : 0;
    p->cls[c].requests += s->count;
    p->cls[c].requested_bytes += s->bytes;
    p->cls[c].class_bytes += c ? s->count * p->cls[c].size : s->bytes;
  }
out:
  free(line);
  fclose(f);
  return rc;
}

int rp_col(const rp_profile_t *p, const char *name) {
  for (size_t i = 0; i < p->ncols; i++)
    if (strcmp(p->colname[i], name) == 0)
      return (int)i;
  return -1;
}

static int load_timeline(rp_profile_t *p, char *err, size_t errlen) {
  FILE *f = open_in(p, "timeline.tsv");
  if (!f)
    return 0;
  char *line = NULL, **fl = NULL;
  size_t cap = 0, cap_rows = 0;
  int rc = 0;
  if (read_line(f, &line, &cap)) {
    fl = calloc(strlen(line) + 1, sizeof *fl);
    size_t n = fl ? split(line, fl, strlen(line) + 1) : 0;
    p->colname = calloc(n ? n : 1, sizeof *p->colname);
    for (size_t i = 0; p->colname && i < n; i++)
      if ((p->colname[i] = strdup(fl[i])) != NULL)
        p->ncols++;
    free(fl);
    fl = NULL;
  }
  if (!p->ncols || strcmp(p->colname[0], "t_ms") != 0) {
    snprintf(err, errlen, "%s/timeline.tsv: no header starting with t_ms", p->dir);
    rc = -1;
    goto out;
  }
  fl = calloc(p->ncols, sizeof *fl);
  while (fl && read_line(f, &line, &cap)) {
    /* A row cut short (the program was killed mid-write) is left out. */
    if (split(line, fl, p->ncols) != p->ncols)
      continue;
    if (p->nrows == cap_rows) {
      cap_rows = cap_rows ? 2 * cap_rows : 256;
      double *r = realloc(p->rows, cap_rows * p->ncols * sizeof *r);
      if (!r) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
      }
      p->rows = r;
    }
    for (size_t i = 0; i < p->ncols; i++)
      p->rows[p->nrows * p->ncols + i] = strtod(fl[i], NULL);
    p->nrows++;
  }
out:
  free(fl);
  free(line);
  fclose(f);
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_children(rp_profile_t *p) {
  DIR *d = opendir(p->dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "pid-", 4) != 0)
      continue;
    char **c = realloc(p->children, (p->nchildren + 1) * sizeof *c);
    if (!c)
      break;
    p->children = c;
    if ((c[p->nchildren] = strdup(e->d_name)) != NULL)
      p->nchildren++;
  }
  closedir(d);
  if (p->nchildren)
    qsort(p->children, p->nchildren, sizeof *p->children, by_name);
}

int rp_load(const char *dir, rp_profile_t *p, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  snprintf(p->dir, sizeof p->dir, "%s", dir);
  size_t l = strlen(p->dir);
  while (l > 1 && p->dir[l - 1] == '/')
    p->dir[--l] = 0;
  if (load_meta(p, err, errlen) || load_sizes(p, err, errlen) || load_timeline(p, err, errlen))
    return -1;
  find_children(p);
  return 0;
}

void rp_free(rp_profile_t *p) {
  free(p->sizes);
  for (size_t i = 0; i < p->ncols; i++)
    free(p->colname[i]);
  free(p->colname);
  free(p->rows);
  for (size_t i = 0; i < p->nchildren; i++)
    free(p->children[i]);
  free(p->children);
}

/* ---- the subcommand ----------------------------------------------------------------- */

void gm_report_help(FILE *f) {
  fputs("usage: gomalloc report DIR [-o FILE.html]\n"
        "\n"
        "Draw a profile directory ('gomalloc run --profile DIR -- PROGRAM') as one\n"
        "self-contained HTML page: the heap over time (RSS, bytes in use and at class\n"
        "size, retained, with the scavenger's releases marked), the requested sizes\n"
        "against the size-class boundaries with each class's rounding waste, and the\n"
        "heap map at exit. FILE.html#selftest runs the page's self-check.\n"
        "\n"
        "  -o, --output FILE  the page to write (default DIR/report.html)\n"
        "  --help             show this help\n",
        f);
}

int gm_report_main(int argc, char **argv) {
  const char *dir = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      gm_report_help(stdout);
      return 0;
    }
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
      if (i + 1 >= argc || !argv[i + 1][0]) {
        fprintf(stderr, "gomalloc report: %s needs a value\n", a);
        return EXIT_USAGE;
      }
      out = argv[++i];
    } else if (strncmp(a, "--output=", 9) == 0 && a[9]) {
      out = a + 9;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "gomalloc report: unknown flag '%s'\n"
                      "Run 'gomalloc report --help' for usage.\n", a);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = a;
    } else {
      fprintf(stderr, "gomalloc report: unexpected argument '%s'\n", a);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    fprintf(stderr, "gomalloc report: needs a profile DIR\n"
                    "Run 'gomalloc report --help' for usage.\n");
    return EXIT_USAGE;
  }
  char err[4400], path[4200], tmp[4300];
  rp_profile_t *p = malloc(sizeof *p);
  if (!p) {
    perror("gomalloc report");
    return 1;
  }
  if (rp_load(dir, p, err, sizeof err) != 0) {
    fprintf(stderr, "gomalloc report: %s\n", err);
    rp_free(p);
    free(p);
    return 1;
  }
  snprintf(path, sizeof path, "%s", out ? out : "");
  if (!out)
    snprintf(path, sizeof path, "%s/report.html", p->dir);
  /* Written beside and renamed, so a reader never sees half a page. */
  struct stat st;
  int in_place = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(in_place ? path : tmp, "w");
  int rc = 1;
  if (!f) {
    fprintf(stderr, "gomalloc report: %s: %s\n", in_place ? path : tmp, strerror(errno));
  } else if (rp_write_page(f, p, err, sizeof err) != 0) {
    fprintf(stderr, "gomalloc report: %s\n", err);
    fclose(f);
  } else if (fclose(f) != 0) {
    fprintf(stderr, "gomalloc report: %s: %s\n", path, strerror(errno));
  } else if (!in_place && rename(tmp, path) != 0) {
    fprintf(stderr, "gomalloc report: %s: %s\n", path, strerror(errno));
  } else {
    rc = 0;
  }
  if (rc && !in_place)
    unlink(tmp);
  rp_free(p);
  free(p);
  return rc;
}
