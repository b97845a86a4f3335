/* GOMALLOC_SIZECLASSES (src/sizeclass_load.c).
 *
 * Bad tables: each kind of malformed or unsafe table is refused by
 * gm_sizeclass_load with one stderr line naming the file, the line and the
 * reason, and the class arrays and malloc's lookup stay Go's. Then the
 * whole path, in a re-executed copy of this test with the variable set
 * before the library starts: a good table (30 classes, some only 8-byte
 * aligned) is in use (every size maps to its smallest fitting class, the
 * divide-by-multiply is exact at every offset of every span, a randomized
 * malloc/free model with pattern checks passes); a bad one is refused with
 * its message and the process runs on Go's classes. */
#include "unit.h"

#include "gomalloc.h"
#include "sizeclass.h"
#include "span.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Sizes of the good table: fewer than Go's 67, 8-aligned ones among them. */
static const unsigned good_sizes[] = {8,    16,   32,   40,   48,   64,    80,    104,   128,  160,
                                      200,  256,  272,  320,  400,  512,   640,   1000,  1024, 1496,
                                      2048, 3000, 4096, 5000, 8192, 10000, 16384, 20000, 27000, 32768};
#define NGOOD (sizeof good_sizes / sizeof good_sizes[0])

static char dir[] = "/tmp/gm_sizeclass_load.XXXXXX";

/* Go's rule: the fewest pages whose tail is at most 1/8 of the span. */
static unsigned go_pages(unsigned size) {
  unsigned np = 1;
  while ((np * 8192u) % size > np * 8192u / 8)
    np++;
  return np;
}

static unsigned align_of(unsigned size) {
  unsigned a = size & -size;
  return a > 8192 ? 8192 : a;
}

#define HEADER "class\tbytes_obj\tbytes_span\tobjects\ttail_waste\tmax_waste_percent\tmin_align\n"

/* One row with consistent derived columns. */
static int row(char *out, size_t cap, unsigned cls, unsigned size, unsigned span) {
  unsigned n = span / size;
  return snprintf(out, cap, "%u\t%u\t%u\t%u\t%u\t0.00\t%u\n", cls, size, span, n, span - n * size,
                  align_of(size));
}

/* The good table's text, with sizes[] (n of them) as classes 1..n. */
static size_t table_text(char *buf, size_t cap, const unsigned *sizes, size_t n) {
  size_t len = (size_t)snprintf(buf, cap, "# a test table\n" HEADER "0\t0\t0\t0\t0\t0.00\t0\n");
  for (size_t i = 0; i < n; i++)
    len += (size_t)row(buf + len, cap - len, (unsigned)i + 1, sizes[i], go_pages(sizes[i]) * 8192);
  return len;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL, "cannot write %s", path);
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

/* ---- the child: runs with GOMALLOC_SIZECLASSES set before the library started ---- */

static uint64_t pattern(const void *p, size_t i) { return (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL + i; }

static void model(unsigned long long seed) {
  enum { SLOTS = 4096, OPS = 400000 };
  static unsigned char *ptr[SLOTS];
  static size_t len[SLOTS];
  for (int op = 0; op < OPS; op++) {
    unsigned long long r = unit_rand(&seed);
    size_t i = r % SLOTS;
    if (ptr[i]) {
      for (size_t k = 0; k < len[i]; k += 8) {
        uint64_t w;
        memcpy(&w, ptr[i] + k, 8);
        if (w != pattern(ptr[i], k)) {
          CHECK(0, "block %p of %zu B: word %zu overwritten", (void *)ptr[i], len[i], k);
          return;
        }
      }
      gm_free(ptr[i]);
      ptr[i] = NULL;
      continue;
    }
    /* Sizes around every class boundary, some big, some aligned. */
    unsigned cls = (unsigned)(r >> 12) % NGOOD;
    size_t size = good_sizes[cls] - (size_t)((r >> 20) % 9);
    if ((r >> 30) % 64 == 0)
      size = 40000 + (r >> 36) % 100000;
    size = (size + 7) & ~(size_t)7;
    if (size == 0)
      size = 8;
    size_t align = (r >> 40) % 16 == 0 ? (size_t)64 << ((r >> 44) % 6) : 0;
    unsigned char *p = align ? gm_aligned_alloc(align, size) : gm_malloc(size);
    CHECK(p != NULL, "allocation of %zu B failed", size);
    if (!p)
      return;
    CHECK(!align || (uintptr_t)p % align == 0, "%p not %zu-aligned", (void *)p, align);
    CHECK(size < 16 || (uintptr_t)p % 16 == 0, "%zu B at %p not 16-aligned", size, (void *)p);
    CHECK(gm_usable_size(p) >= size, "usable %zu < %zu", gm_usable_size(p), size);
    for (size_t k = 0; k < size; k += 8) {
      uint64_t w = pattern(p, k);
      memcpy(p + k, &w, 8);
    }
    ptr[i] = p;
    len[i] = size;
  }
  for (size_t i = 0; i < SLOTS; i++)
    gm_free(ptr[i]);
}

static int child_good(void) {
  CHECK(gm_sizeclass_nclasses == NGOOD + 1, "%u classes in use, want %zu", gm_sizeclass_nclasses,
        NGOOD + 1);
  for (unsigned c = 1; c < GM_NUM_CLASSES; c++) {
    unsigned want = c <= NGOOD ? good_sizes[c - 1] : 0;
    CHECK(gm_class_to_size[c] == want, "class %u is %u B, want %u", c, gm_class_to_size[c], want);
  }
  /* Every request gets the smallest class that holds it, 16-aligned from 16 B. */
  for (size_t size = 1; size <= GM_MAX_SMALL_SIZE; size++) {
    unsigned want = 0;
    for (unsigned i = 0; i < NGOOD && !want; i++)
      if (good_sizes[i] >= size && (size < 16 || good_sizes[i] % 16 == 0))
        want = i + 1;
    if (gm_size_to_class(size) != want) {
      CHECK(0, "size %zu: class %u, want %u", size, gm_size_to_class(size), want);
      break;
    }
  }
  /* span.h's divide-by-multiply at every offset of every loaded class. */
  for (unsigned c = 1; c <= NGOOD; c++) {
    uint64_t size = gm_class_to_size[c], span = (uint64_t)gm_class_to_allocnpages[c] * 8192;
    uint32_t m = gm_class_to_divmagic[c];
    CHECK(gm_class_to_nelems[c] == span / size, "class %u: nelems %u", c, gm_class_to_nelems[c]);
    for (uint64_t off = 0; off <= span; off++) {
      uint64_t q = off * m;
      bool exact = (uint32_t)q < m;
      if ((q >> 32) != off / size || (off < size * gm_class_to_nelems[c] && exact != (off % size == 0))) {
        CHECK(0, "class %u (%llu B): offset %llu wrong", c, (unsigned long long)size,
              (unsigned long long)off);
        break;
      }
    }
  }
  /* Debug builds report the request as the usable size: slots unchecked. */
  void *p = gm_malloc(40);
  CHECK(GM_DEBUG || gm_usable_size(p) == 48, "malloc(40) got %zu B (40 B class is 8-aligned only)",
        gm_usable_size(p));
  gm_free(p);
  p = gm_malloc(270);
  CHECK(GM_DEBUG || gm_usable_size(p) == 272, "malloc(270) got %zu B, want the table's 272", gm_usable_size(p));
  gm_free(p);
  model(unit_seed());
  return check_summary();
}

/* After a refused table the process runs on Go's classes. */
static int child_bad(void) {
  CHECK(gm_sizeclass_nclasses == GM_NUM_CLASSES, "%u classes", gm_sizeclass_nclasses);
  CHECK(gm_class_to_size[5] == 48 && gm_class_to_size[GM_NUM_CLASSES - 1] == 32768,
        "not Go's classes");
  void *p = gm_malloc(270);
  CHECK(p && (GM_DEBUG || gm_usable_size(p) == 288), "malloc(270) got %zu B, want Go's 288", gm_usable_size(p));
  gm_free(p);
  return check_summary();
}

/* ---- the parent ---- */

/* Run this test again with GOMALLOC_SIZECLASSES=table and GM_TEST_CHILD=mode;
 * its output goes to out. Returns its exit status (-1 if it did not exit). */
static int run_child(const char *mode, const char *table, const char *out) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(120);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
      _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("GOMALLOC_SIZECLASSES", table, 1);
    setenv("GM_TEST_CHILD", mode, 1);
    execl("/proc/self/exe", "test_sizeclass_load", (char *)NULL);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t read_file(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  if (f)
    fclose(f);
  buf[n] = 0;
  return n;
}

struct bad {
  const char *name;
  unsigned line;      /* of the reason, in the file as written (header is line 2) */
  const char *reason; /* a part of the message */
};

/* Build bad table number k into buf; returns its expectation. Each is the
 * good table with one thing wrong. */
static struct bad bad_table(int k, char *buf, size_t cap) {
  size_t len = table_text(buf, cap, good_sizes, NGOOD);
  char r[128];
  /* Class c's row is line c + 3 (a comment, the header, class 0). */
#define REPLACE_ROW(c, text)                                                                       \
  do {                                                                                             \
    char *s_ = buf;                                                                                \
    for (int l_ = 0; l_ < (c) + 2; l_++)                                                           \
      s_ = strchr(s_, '\n') + 1;                                                                   \
    char *e_ = strchr(s_, '\n') + 1;                                                               \
    char rest_[8192];                                                                              \
    snprintf(rest_, sizeof rest_, "%s", e_);                                                       \
    snprintf(s_, cap - (size_t)(s_ - buf), "%s%s", (text), rest_);                                 \
  } while (0)
  switch (k) {
  case 0:
    REPLACE_ROW(4, "4\t40\t8192\tx\t32\t0.00\t8\n");
    return (struct bad){"malformed field", 7, "a field is not a whole number"};
  case 1:
    REPLACE_ROW(4, "4\t40\t8192\t204\n");
    return (struct bad){"missing fields", 7, "expected 7 tab-separated fields"};
  case 2:
    row(r, sizeof r, 5, 32, 8192);
    REPLACE_ROW(5, r);
    return (struct bad){"sizes not increasing", 8, "object sizes must increase"};
  case 3:
    row(r, sizeof r, 5, 44, 8192);
    REPLACE_ROW(5, r);
    return (struct bad){"misaligned size", 8, "object size is not a positive multiple of 8"};
  case 4: {
    len = (size_t)snprintf(buf, cap, HEADER "0\t0\t0\t0\t0\t0.00\t0\n");
    for (unsigned c = 1; c <= 68; c++)
      len += (size_t)row(buf + len, cap - len, c, c < 68 ? 8 * c : 32768, go_pages(c < 68 ? 8 * c : 32768) * 8192);
    return (struct bad){"too many classes", 70, "more than 68 classes"};
  }
  case 5:
    row(r, sizeof r, NGOOD, 40960, 40960);
    REPLACE_ROW((int)NGOOD, r);
    return (struct bad){"class above 32768", NGOOD + 3, "object size above 32768"};
  case 6:
    REPLACE_ROW(4, "4\t40\t12000\t300\t0\t0.00\t8\n");
    return (struct bad){"span not whole pages", 7, "span size is not a whole number of 8 KiB pages"};
  case 7:
    row(r, sizeof r, 1, 8, 16384);
    REPLACE_ROW(1, r);
    return (struct bad){"too many objects per span", 4, "more than 1024 objects per span"};
  case 8:
    row(r, sizeof r, 22, 3000, 8192);
    REPLACE_ROW(22, r);
    return (struct bad){"tail over 12.5%", 25, "tail waste above 12.5%"};
  case 9:
    /* 2288 B in 235 pages: 841 objects, tail 0.1%, but no exact magic. */
    row(r, sizeof r, 21, 2288, 235 * 8192);
    REPLACE_ROW(21, r);
    return (struct bad){"inexact divide", 24, "no exact divide-by-multiply"};
  case 10:
    buf[len - 1] = 0; /* drop the last row (32768) */
    *(strrchr(buf, '\n') + 1) = 0;
    return (struct bad){"no 32768 class", NGOOD + 2, "the last class must be 32768"};
  case 11:
    memcpy(strchr(buf, '\n') + 1, "klass", 5);
    return (struct bad){"bad header", 2, "expected the header line"};
  case 12:
    REPLACE_ROW(0, "0\t8\t0\t0\t0\t0.00\t0\n");
    return (struct bad){"class 0 not zero", 3, "class 0 (large objects) must be all zero"};
  case 13:
    row(r, sizeof r, 6, 48, 8192);
    REPLACE_ROW(4, r);
    return (struct bad){"class numbers skip", 7, "class numbers must count up by 1"};
  case 14:
    REPLACE_ROW(4, "4\t40\t8192\t203\t72\t0.00\t8\n");
    return (struct bad){"objects column wrong", 7, "objects is not bytes_span / bytes_obj"};
  case 15:
    REPLACE_ROW(4, "4\t40\t8192\t204\t32\t0.00\t16\n");
    return (struct bad){"min_align wrong", 7, "min_align is not"};
  case 16:
    REPLACE_ROW(4, "4\t40\t8192\t204\t32\t12.x\t8\n");
    return (struct bad){"max_waste malformed", 7, "max_waste_percent is not a decimal"};
  case 17:
    buf[0] = 0;
    return (struct bad){"empty file", 0, "empty table"};
  case 18:
    row(r, sizeof r, 1, 8, 256 * 8192);
    REPLACE_ROW(1, r);
    return (struct bad){"span over 255 pages", 4, "span over 255 pages"};
  }
#undef REPLACE_ROW
  (void)len;
  return (struct bad){NULL, 0, NULL};
}

int main(void) {
  const char *mode = getenv("GM_TEST_CHILD");
  if (mode && strcmp(mode, "good") == 0)
    return child_good();
  if (mode && strcmp(mode, "bad") == 0)
    return child_bad();

  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  static uint16_t go_size[GM_NUM_CLASSES];
  static uint8_t go_spc8[GM_SIZE_SPC8_LEN];
  memcpy(go_size, gm_class_to_size, sizeof go_size);
  memcpy(go_spc8, gm_size_spc8, sizeof go_spc8);
  CHECK(go_size[5] == 48 && gm_sizeclass_nclasses == GM_NUM_CLASSES, "not on Go's table at start");

  /* The good table parses, with its comment and fewer classes than Go's. */
  static char text[16384], path[256], err[256], out[4096];
  static gm_sizeclass_table_t t;
  size_t len = table_text(text, sizeof text, good_sizes, NGOOD);
  unsigned line = 0;
  const char *why = gm_sizeclass_parse(text, len, &t, &line);
  CHECK(why == NULL, "good table refused at line %u: %s", line, why ? why : "");
  CHECK(t.nclasses == NGOOD + 1 && t.size[4] == 40 && t.npages[NGOOD] == 4, "parsed %u classes",
        t.nclasses);

  /* Each bad table: refused, one line naming file, line and reason; Go's table kept. */
  snprintf(err, sizeof err, "%s/stderr", dir);
  for (int k = 0;; k++) {
    struct bad b = bad_table(k, text, sizeof text);
    if (!b.name)
      break;
    snprintf(path, sizeof path, "%s/bad%d.tsv", dir, k);
    write_file(path, text);
    fflush(stderr);
    int saved = dup(2), fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    bool ok = gm_sizeclass_load(path);
    dup2(saved, 2);
    close(saved);
    read_file(err, out, sizeof out);
    char want[512];
    if (b.line)
      snprintf(want, sizeof want, "gomalloc: GOMALLOC_SIZECLASSES=%s: line %u: %s", path, b.line,
               b.reason);
    else
      snprintf(want, sizeof want, "gomalloc: GOMALLOC_SIZECLASSES=%s: %s", path, b.reason);
    CHECK(!ok, "%s: table accepted", b.name);
    CHECK(strncmp(out, want, strlen(want)) == 0 && strstr(out, "; using Go's size classes\n") &&
              strchr(out, '\n') == out + strlen(out) - 1,
          "%s: message\n  %s  want %s...", b.name, out, want);
    CHECK(memcmp(go_size, gm_class_to_size, sizeof go_size) == 0 &&
              memcmp(go_spc8, gm_size_spc8, sizeof go_spc8) == 0 &&
              gm_sizeclass_nclasses == GM_NUM_CLASSES,
          "%s: Go's table changed", b.name);
  }
  snprintf(path, sizeof path, "%s/missing.tsv", dir);
  CHECK(!gm_sizeclass_load(path), "a missing file is accepted");

  /* Through the variable, at start: a good table in use, a bad one refused. */
  snprintf(path, sizeof path, "%s/good.tsv", dir);
  table_text(text, sizeof text, good_sizes, NGOOD);
  write_file(path, text);
  snprintf(err, sizeof err, "%s/good.out", dir);
  int st = run_child("good", path, err);
  read_file(err, out, sizeof out);
  CHECK(st == 0 && strstr(out, "GOMALLOC_SIZECLASSES") == NULL,
        "with a good table the child exited %d:\n%s", st, out);

  snprintf(path, sizeof path, "%s/bad.tsv", dir);
  bad_table(3, text, sizeof text);
  write_file(path, text);
  snprintf(err, sizeof err, "%s/bad.out", dir);
  st = run_child("bad", path, err);
  read_file(err, out, sizeof out);
  char want[512];
  snprintf(want, sizeof want,
           "gomalloc: GOMALLOC_SIZECLASSES=%s: line 8: object size is not a positive multiple of 8; "
           "using Go's size classes\n",
           path);
  CHECK(st == 0 && strncmp(out, want, strlen(want)) == 0,
        "with a bad table the child exited %d:\n%s", st, out);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0, "rm");
  return check_summary();
}
