/* sizeclasses_table.c: checks the generated size-class tables (src/sizeclasses.c)
 * against Go's reference table and against their own definitions.
 *
 *   sizeclasses_table TSV              run the checks; TSV is go-sizeclasses.tsv
 *   sizeclasses_table --self-test TSV  corrupt one table entry at a time and
 *                                      require the matching check to catch it
 * Without TSV the path comes from $GM_SIZECLASSES_TSV.
 *
 * Not named test_*.c: tests/unit's glob would register it without the TSV
 * argument; tools/CMakeLists.txt registers it instead. */
#define _POSIX_C_SOURCE 200809L
#include "unit.h"

#include "sizeclasses.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TSV_HEADER "class\tbytes_obj\tbytes_span\tobjects\ttail_waste\tmax_waste_percent\tmin_align"
#define TSV_COLS 7

/* The tables under test, by pointer so the self-test can swap in corrupted copies. */
struct tables {
  const uint16_t *size;
  const uint8_t *npages;
  const uint16_t *nelems;
  const uint32_t *divmagic;
  const uint16_t *minalign;
  const uint8_t *class8;
  const uint8_t *class128;
  const uint8_t *class8_align16;
};

struct tsv_row {
  unsigned long num[TSV_COLS]; /* max waste (column 5) is kept as text only */
  char max_waste[16];
};

struct tsv {
  int nrows;
  struct tsv_row row[GM_NUM_CLASSES];
};

/* Every check reports its first mismatch only: later ones are usually echoes. */
#define MISMATCH(...)                                                                              \
  do {                                                                                             \
    printf("  mismatch: " __VA_ARGS__);                                                            \
    putchar('\n');                                                                                 \
    return false;                                                                                  \
  } while (0)

static int span_bytes(const struct tables *t, int c) { return t->npages[c] * (int)GM_PAGE_SIZE; }

/* Largest power of two <= the page that divides size, found without ctz so
 * it does not repeat the generator's arithmetic. */
static int expected_align(int size) {
  int a = 1;
  while (a < (int)GM_PAGE_SIZE && size % (a * 2) == 0)
    a *= 2;
  return a;
}

/* Smallest class whose objects are big enough and, if need16, 16-aligned. */
static int expected_class(const struct tables *t, int request, bool need16) {
  for (int c = 1; c < GM_NUM_CLASSES; c++)
    if (t->size[c] >= request && (!need16 || expected_align(t->size[c]) >= 16))
      return c;
  return -1;
}

static void format_max_waste(const struct tables *t, int c, char *buf, size_t len) {
  double w = 0;
  if (c > 0) {
    int prev = t->size[c - 1], span = span_bytes(t, c), objs = t->nelems[c];
    int tail = span - objs * t->size[c];
    /* Go's formula: every object holds a request one byte above the previous class. */
    w = 100 * ((double)((t->size[c] - prev - 1) * objs + tail) / (double)span);
  }
  snprintf(buf, len, "%.2f", w);
}

/* ---- the TSV ------------------------------------------------------------------- */

static bool parse_ulong(const char *s, unsigned long *out) {
  char *end;
  if (*s < '0' || *s > '9')
    return false;
  *out = strtoul(s, &end, 10);
  return *end == 0;
}

static bool load_tsv(const char *path, struct tsv *tsv) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    return false;
  }
  char line[512];
  int lineno = 0;
  bool ok = true;
  tsv->nrows = 0;
  while (ok && fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') {
      printf("%s:%d: line too long or not terminated\n", path, lineno);
      ok = false;
      break;
    }
    line[n - 1] = 0;
    if (lineno == 1) {
      if (strcmp(line, TSV_HEADER) != 0) {
        printf("%s:1: unexpected header\n", path);
        ok = false;
      }
      continue;
    }
    if (tsv->nrows == GM_NUM_CLASSES) {
      printf("%s:%d: more than %d rows\n", path, lineno, GM_NUM_CLASSES);
      ok = false;
      break;
    }
    struct tsv_row *r = &tsv->row[tsv->nrows++];
    char *save = NULL, *field = strtok_r(line, "\t", &save);
    for (int col = 0; col < TSV_COLS; col++, field = strtok_r(NULL, "\t", &save)) {
      if (!field) {
        printf("%s:%d: %d columns, want %d\n", path, lineno, col, TSV_COLS);
        ok = false;
        break;
      }
      if (col == 5) {
        snprintf(r->max_waste, sizeof r->max_waste, "%s", field);
        r->num[col] = 0;
      } else if (!parse_ulong(field, &r->num[col])) {
        printf("%s:%d: column %d is not a number: '%s'\n", path, lineno, col + 1, field);
        ok = false;
        break;
      }
    }
    if (ok && field) {
      printf("%s:%d: more than %d columns\n", path, lineno, TSV_COLS);
      ok = false;
    }
  }
  fclose(f);
  return ok;
}

/* ---- checks ------------------------------------------------------------------------ */

/* (a) Every row and column of Go's table equals ours. */
static bool check_tsv(const struct tables *t, const struct tsv *tsv) {
  if (tsv->nrows != GM_NUM_CLASSES)
    MISMATCH("TSV has %d rows, want %d", tsv->nrows, GM_NUM_CLASSES);
  for (int c = 0; c < GM_NUM_CLASSES; c++) {
    const unsigned long *v = tsv->row[c].num;
    unsigned long span = (unsigned long)span_bytes(t, c);
    unsigned long tail = span - (unsigned long)t->nelems[c] * t->size[c];
    char waste[16];
    format_max_waste(t, c, waste, sizeof waste);
    if (v[0] != (unsigned long)c)
      MISMATCH("row %d: class column is %lu", c, v[0]);
    if (v[1] != t->size[c])
      MISMATCH("class %d: bytes/obj %u, TSV %lu", c, t->size[c], v[1]);
    if (v[2] != span)
      MISMATCH("class %d: bytes/span %lu, TSV %lu", c, span, v[2]);
    if (v[3] != t->nelems[c])
      MISMATCH("class %d: objects %u, TSV %lu", c, t->nelems[c], v[3]);
    if (v[4] != tail)
      MISMATCH("class %d: tail waste %lu, TSV %lu", c, tail, v[4]);
    if (v[3] * v[1] + v[4] != v[2])
      MISMATCH("class %d: TSV objects*size+tail != span", c);
    if (strcmp(tsv->row[c].max_waste, waste) != 0)
      MISMATCH("class %d: max waste %s, TSV %s", c, waste, tsv->row[c].max_waste);
    if (v[6] != t->minalign[c])
      MISMATCH("class %d: min align %u, TSV %lu", c, t->minalign[c], v[6]);
  }
  return true;
}

/* (d) Span geometry: objects fill the span, the tail is under one object and
 * within Go's 12.5% bound, and sizes grow. */
static bool check_geometry(const struct tables *t) {
  if (t->size[0] || t->npages[0] || t->nelems[0] || t->divmagic[0] || t->minalign[0])
    MISMATCH("class 0 is not all zero");
  int most = 0;
  for (int c = 1; c < GM_NUM_CLASSES; c++) {
    int size = t->size[c], span = span_bytes(t, c), objs = t->nelems[c];
    int tail = span - objs * size;
    if (size <= t->size[c - 1] || size % 8 != 0)
      MISMATCH("class %d: size %d not increasing multiple of 8", c, size);
    if (t->npages[c] == 0 || objs == 0)
      MISMATCH("class %d: empty span (%d pages, %d objects)", c, t->npages[c], objs);
    if (objs * size + tail != span || tail < 0 || tail >= size)
      MISMATCH("class %d: %d x %d B + tail %d does not fill %d B", c, objs, size, tail, span);
    if (tail > span / 8)
      MISMATCH("class %d: tail %d exceeds 1/8 of span %d", c, tail, span);
    if (objs > most)
      most = objs;
  }
  if (t->size[GM_NUM_CLASSES - 1] != GM_MAX_SMALL_SIZE)
    MISMATCH("largest class %d, want %d", t->size[GM_NUM_CLASSES - 1], GM_MAX_SMALL_SIZE);
  if (most != GM_MAX_OBJS_PER_SPAN)
    MISMATCH("most objects per span %d, GM_MAX_OBJS_PER_SPAN %d", most, GM_MAX_OBJS_PER_SPAN);
  return true;
}

static int table_class(const struct tables *t, int size, bool align16) {
  if (size <= GM_SMALL_SIZE_MAX) {
    int i = (size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV;
    return align16 ? t->class8_align16[i] : t->class8[i];
  }
  return t->class128[(size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) / GM_LARGE_SIZE_DIV];
}

/* (b) Go's lookup: the smallest class that holds the request. */
static bool check_lookup(const struct tables *t) {
  if (t->class8[0] != 0)
    MISMATCH("size_to_class8[0] = %d, Go's table has 0", t->class8[0]);
  for (int size = 1; size <= GM_MAX_SMALL_SIZE; size++) {
    int got = table_class(t, size, false), want = expected_class(t, size, false);
    if (got != want)
      MISMATCH("size %d: class %d, want %d", size, got, want);
  }
  return true;
}

/* (b) The align16 lookup: as above, but requests >= 16 B need a 16-aligned class. */
static bool check_align16(const struct tables *t) {
  for (int size = 1; size <= GM_MAX_SMALL_SIZE; size++) {
    int got = table_class(t, size, true), want = expected_class(t, size, size >= 16);
    if (got != want)
      MISMATCH("size %d: class %d, want %d", size, got, want);
  }
  for (int i = 0; i < GM_SIZE_TO_CLASS8_LEN; i++) {
    int want = i == 0 ? 1 : i == 3 ? 4 : t->class8[i];
    if (t->class8_align16[i] != want)
      MISMATCH("size_to_class8_align16[%d] = %d, want %d", i, t->class8_align16[i], want);
  }
  return true;
}

/* (c) The multiply-shift gives the object index for every byte offset of the span,
 * and its low 32 bits are below the magic exactly at object starts (free's
 * one-compare "is p an object's base" test, gm_span_obj_index_exact). */
static bool check_divmagic(const struct tables *t) {
  for (int c = 1; c < GM_NUM_CLASSES; c++) {
    uint64_t size = t->size[c], span = (uint64_t)span_bytes(t, c), magic = t->divmagic[c];
    for (uint64_t off = 0; off <= span; off++) {
      uint64_t got = (off * magic) >> 32;
      if (got != off / size)
        MISMATCH("class %d: offset %llu gives index %llu, want %llu", c, (unsigned long long)off,
                 (unsigned long long)got, (unsigned long long)(off / size));
      bool exact = (uint32_t)(off * magic) < magic;
      if (off < size * t->nelems[c] && exact != (off % size == 0))
        MISMATCH("class %d: offset %llu %s as an object start", c, (unsigned long long)off,
                 exact ? "passes" : "fails");
    }
  }
  return true;
}

/* Min align is the alignment every object of the class gets in a page-aligned span. */
static bool check_minalign(const struct tables *t) {
  for (int c = 1; c < GM_NUM_CLASSES; c++) {
    int want = expected_align(t->size[c]);
    if (t->minalign[c] != want)
      MISMATCH("class %d (%d B): min align %d, want %d", c, t->size[c], t->minalign[c], want);
    for (int k = 0; k < t->nelems[c]; k++)
      if ((k * t->size[c]) % want != 0)
        MISMATCH("class %d: object %d at offset %d is not %d-aligned", c, k, k * t->size[c], want);
  }
  return true;
}

enum check_id { CK_TSV, CK_GEOMETRY, CK_LOOKUP, CK_ALIGN16, CK_DIVMAGIC, CK_MINALIGN, CK_COUNT };

static const char *const check_name[CK_COUNT] = {"tsv", "geometry", "lookup", "align16", "divmagic",
                                                 "minalign"};

static bool run_check(int id, const struct tables *t, const struct tsv *tsv) {
  switch (id) {
  case CK_TSV:
    return check_tsv(t, tsv);
  case CK_GEOMETRY:
    return check_geometry(t);
  case CK_LOOKUP:
    return check_lookup(t);
  case CK_ALIGN16:
    return check_align16(t);
  case CK_DIVMAGIC:
    return check_divmagic(t);
  default:
    return check_minalign(t);
  }
}

static void count(bool ok, const char *what) {
  if (CHECK(ok, "%s", what))
    printf("ok   %s\n", what);
}

/* ---- self-test: prove each check can fail ----------------------------------------- */

static uint16_t m_size[GM_NUM_CLASSES], m_nelems[GM_NUM_CLASSES], m_minalign[GM_NUM_CLASSES];
static uint8_t m_npages[GM_NUM_CLASSES], m_class8[GM_SIZE_TO_CLASS8_LEN],
    m_class128[GM_SIZE_TO_CLASS128_LEN], m_align16[GM_SIZE_TO_CLASS8_LEN];
static uint32_t m_divmagic[GM_NUM_CLASSES];

static void reset_copies(struct tables *m, const struct tables *t) {
  memcpy(m_size, t->size, sizeof m_size);
  memcpy(m_npages, t->npages, sizeof m_npages);
  memcpy(m_nelems, t->nelems, sizeof m_nelems);
  memcpy(m_divmagic, t->divmagic, sizeof m_divmagic);
  memcpy(m_minalign, t->minalign, sizeof m_minalign);
  memcpy(m_class8, t->class8, sizeof m_class8);
  memcpy(m_class128, t->class128, sizeof m_class128);
  memcpy(m_align16, t->class8_align16, sizeof m_align16);
  *m = (struct tables){m_size, m_npages, m_nelems, m_divmagic, m_minalign,
                       m_class8, m_class128, m_align16};
}

struct mutant {
  const char *what;
  enum check_id must_fail;
};

static const struct mutant mutants[] = {
    {"class 5 size 48 -> 40", CK_TSV},
    {"class 35 npages 2 -> 1", CK_GEOMETRY},
    {"class 3 nelems 341 -> 340", CK_GEOMETRY},
    {"size_to_class8[3] 3 -> 4", CK_LOOKUP},
    {"size_to_class128[10] 39 -> 40", CK_LOOKUP},
    {"size_to_class8_align16[3] 4 -> 3", CK_ALIGN16},
    {"size_to_class8_align16[0] 1 -> 0", CK_ALIGN16},
    {"class 40 divmagic - 1", CK_DIVMAGIC},
    {"class 10 minalign 128 -> 64", CK_MINALIGN},
    {"TSV class 1 max waste 87.50 -> 87.49", CK_TSV},
    {"TSV class 67 min align 8192 -> 4096", CK_TSV},
};

static void apply(int i, struct tsv *tsv) {
  switch (i) {
  case 0: m_size[5] = 40; break;
  case 1: m_npages[35] = 1; break;
  case 2: m_nelems[3] = 340; break;
  case 3: m_class8[3] = 4; break;
  case 4: m_class128[10] = 40; break;
  case 5: m_align16[3] = 3; break;
  case 6: m_align16[0] = 0; break;
  case 7: m_divmagic[40] -= 1; break;
  case 8: m_minalign[10] = 64; break;
  case 9: snprintf(tsv->row[1].max_waste, sizeof tsv->row[1].max_waste, "87.49"); break;
  default: tsv->row[67].num[6] = 4096; break;
  }
}

static int self_test(const struct tables *t, const struct tsv *ref) {
  /* The unmodified tables must pass, or every mutant would look caught. */
  for (int id = 0; id < CK_COUNT; id++)
    CHECK(run_check(id, t, ref), "baseline: check %s fails on the real tables", check_name[id]);
  const int n = (int)(sizeof mutants / sizeof mutants[0]);
  for (int i = 0; i < n; i++) {
    struct tables m;
    static struct tsv tsv;
    reset_copies(&m, t);
    tsv = *ref;
    apply(i, &tsv);
    char what[128];
    snprintf(what, sizeof what, "mutant '%s' caught by check %s", mutants[i].what,
             check_name[mutants[i].must_fail]);
    count(!run_check(mutants[i].must_fail, &m, &tsv), what);
  }
  return check_summary();
}

int main(int argc, char **argv) {
  bool selftest = argc > 1 && strcmp(argv[1], "--self-test") == 0;
  const char *path = argc > 1 + selftest ? argv[1 + selftest] : getenv("GM_SIZECLASSES_TSV");
  if (!path || !*path) {
    fprintf(stderr, "usage: %s [--self-test] TSV   (or set GM_SIZECLASSES_TSV)\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  static struct tsv tsv;
  const struct tables real = {gm_class_to_size,   gm_class_to_allocnpages, gm_class_to_nelems,
                              gm_class_to_divmagic, gm_class_to_minalign,  gm_size_to_class8,
                              gm_size_to_class128, gm_size_to_class8_align16};
  bool loaded = load_tsv(path, &tsv);
  if (selftest) {
    if (!CHECK(loaded, "read the reference TSV"))
      return check_summary();
    return self_test(&real, &tsv);
  }

  count(loaded, "read the reference TSV");
  for (int id = 0; id < CK_COUNT; id++) {
    if (id == CK_TSV && !loaded)
      continue;
    count(run_check(id, &real, &tsv), check_name[id]);
  }
  return check_summary();
}
