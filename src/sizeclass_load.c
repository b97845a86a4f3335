/* sizeclass_load.c: GOMALLOC_SIZECLASSES, a size-class table read at start.
 *
 * Go fitted its classes once, to Go programs; `gomalloc sizeclasses --fit`
 * fits them to one program's request sizes. This file loads such a table
 * (the TSV of `gomalloc sizeclasses --tsv`) before the first allocation,
 * checks that the allocator can run on it, and only then writes it into
 * the class arrays and malloc's size -> span class table. The fast path
 * is untouched: it always read a table built here at start.
 *
 * What is checked is what the rest of the allocator relies on: sizes in
 * 8-byte steps, increasing, the last one GM_MAX_SMALL_SIZE (every small
 * request needs a class); spans of whole 8 KiB pages, at most 255 (uint8
 * allocnpages) with at most GM_MAX_OBJS_PER_SPAN objects (the bitmaps);
 * Go's 12.5% tail bound; and the divide-by-multiply proofs of span.h. A
 * table that fails any of them is refused with one line naming the file,
 * line and reason, and Go's table stays. Like the option parsers this
 * runs before the heap exists: no malloc, no stdio. */
#include "sizeclass.h"

#include "error.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define STR_(x) #x
#define GM_STR(x) STR_(x)
#define TABLE_MAX_BYTES 65536 /* a full table is about 3 KiB; more is not a table */

static const char header[] =
    "class\tbytes_obj\tbytes_span\tobjects\ttail_waste\tmax_waste_percent\tmin_align";

/* Unsigned decimal field ending at a tab or at end; false if malformed. */
static bool field_u32(const char **p, const char *end, uint32_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  if (s == end || *s < '0' || *s > '9')
    return false;
  for (; s < end && *s >= '0' && *s <= '9'; s++) {
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > UINT32_MAX)
      return false;
  }
  *out = (uint32_t)v;
  *p = s;
  return true;
}

/* max_waste_percent is informational (a rounded float): it must only be a
 * well-formed decimal. */
static bool field_decimal(const char **p, const char *end) {
  uint32_t ignored;
  if (!field_u32(p, end, &ignored))
    return false;
  if (*p < end && **p == '.') {
    (*p)++;
    return field_u32(p, end, &ignored);
  }
  return true;
}

static bool tab(const char **p, const char *end) {
  if (*p == end || **p != '\t')
    return false;
  (*p)++;
  return true;
}

const char *gm_sizeclass_check_class(uint32_t size, uint32_t span, uint32_t prev_size) {
  if (size == 0 || size % 8 != 0)
    return "object size is not a positive multiple of 8";
  if (size <= prev_size)
    return "object sizes must increase";
  if (size > GM_MAX_SMALL_SIZE)
    return "object size above " GM_STR(GM_MAX_SMALL_SIZE) " (the largest small size)";
  if (span == 0 || span % GM_PAGE_SIZE != 0)
    return "span size is not a whole number of 8 KiB pages";
  if (span / GM_PAGE_SIZE > UINT8_MAX)
    return "span over 255 pages";
  uint32_t n = span / size;
  if (n == 0)
    return "span smaller than one object";
  if (n > GM_MAX_OBJS_PER_SPAN)
    return "more than " GM_STR(GM_MAX_OBJS_PER_SPAN) " objects per span (the span bitmaps' limit)";
  if (span - n * size > span / 8)
    return "tail waste above 12.5% of the span (Go's bound)";
  /* span.h's multiply-shift: off * magic >> 32 is off / size for every
   * offset of the span (Lemire-Kaser-Kurz: span * e < 2^32), and the low
   * half is below magic exactly at object starts (e * nelems < magic). */
  uint64_t magic = UINT32_MAX / size + 1;
  uint64_t e = magic * size - ((uint64_t)1 << 32);
  if ((uint64_t)span * e >= ((uint64_t)1 << 32) || e * n >= magic)
    return "no exact divide-by-multiply for this size over this span";
  return NULL;
}

static uint32_t min_align(uint32_t size) {
  unsigned bits = (unsigned)__builtin_ctz(size);
  return 1u << (bits > GM_PAGE_SHIFT ? GM_PAGE_SHIFT : bits);
}

/* One class row: class, bytes_obj, bytes_span, objects, tail_waste,
 * max_waste_percent, min_align. The derived columns must agree. */
static const char *parse_row(const char *s, const char *end, gm_sizeclass_table_t *t) {
  uint32_t v[7];
  for (int i = 0; i < 7; i++) {
    if (i > 0 && !tab(&s, end))
      return "expected 7 tab-separated fields";
    if (i == 5) {
      v[5] = 0;
      if (!field_decimal(&s, end))
        return "max_waste_percent is not a decimal number";
    } else if (!field_u32(&s, end, &v[i])) {
      return "a field is not a whole number";
    }
  }
  if (s != end)
    return "expected 7 tab-separated fields";
  if (v[0] != t->nclasses)
    return t->nclasses == 0 ? "the first row must be class 0" : "class numbers must count up by 1";
  if (v[0] == 0)
    return v[1] || v[2] || v[3] || v[4] || v[6] ? "class 0 (large objects) must be all zero" : NULL;
  if (v[0] >= GM_NUM_CLASSES)
    return "more than " GM_STR(GM_NUM_CLASSES) " classes (class 0 included)";
  const char *why = gm_sizeclass_check_class(v[1], v[2], t->size[v[0] - 1]);
  if (why)
    return why;
  uint32_t n = v[2] / v[1];
  if (v[3] != n)
    return "objects is not bytes_span / bytes_obj";
  if (v[4] != v[2] - n * v[1])
    return "tail_waste is not bytes_span - objects * bytes_obj";
  if (v[6] != min_align(v[1]))
    return "min_align is not the object size's alignment";
  t->size[v[0]] = (uint16_t)v[1];
  t->npages[v[0]] = (uint8_t)(v[2] / GM_PAGE_SIZE);
  return NULL;
}

const char *gm_sizeclass_parse(const char *text, size_t len, gm_sizeclass_table_t *t,
                               unsigned *line) {
  memset(t, 0, sizeof *t);
  bool seen_header = false;
  unsigned lineno = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    *line = ++lineno;
    /* Blank lines and # comments (the fit's expected waste) are skipped. */
    if (eol == p || *p == '#') {
    } else if (memchr(p, '\0', (size_t)(eol - p))) {
      return "not a text line";
    } else if (!seen_header) {
      if ((size_t)(eol - p) != sizeof header - 1 || memcmp(p, header, sizeof header - 1) != 0)
        return "expected the header line of `gomalloc sizeclasses --tsv`";
      seen_header = true;
    } else {
      const char *why = parse_row(p, eol, t);
      if (why)
        return why;
      t->nclasses++;
    }
    p = nl ? nl + 1 : end;
  }
  *line = lineno;
  if (!seen_header)
    return "empty table";
  if (t->nclasses < 2)
    return "no size classes";
  if (t->size[t->nclasses - 1] != GM_MAX_SMALL_SIZE)
    return "the last class must be " GM_STR(GM_MAX_SMALL_SIZE) " B (every small size needs a class)";
  return NULL;
}

void gm_sizeclass_install(const gm_sizeclass_table_t *t) {
  for (unsigned c = 0; c < GM_NUM_CLASSES; c++) {
    bool used = c > 0 && c < t->nclasses;
    uint32_t size = used ? t->size[c] : 0, span = used ? t->npages[c] * (uint32_t)GM_PAGE_SIZE : 0;
    gm_class_to_size[c] = (uint16_t)size;
    gm_class_to_allocnpages[c] = used ? t->npages[c] : 0;
    gm_class_to_nelems[c] = (uint16_t)(used ? span / size : 0);
    gm_class_to_divmagic[c] = used ? UINT32_MAX / size + 1 : 0;
    gm_class_to_minalign[c] = (uint16_t)(used ? min_align(size) : 0);
  }
  gm_sizeclass_nclasses = t->nclasses;
}

/* "gomalloc: GOMALLOC_SIZECLASSES=<path>: line <n>: <why>; using Go's size classes" */
static void refuse(const char *path, unsigned line, const char *why) {
  static char msg[GM_OPT_PATH_MAX + 256];
  size_t n = 0;
#define PUT(s, len)                                                                                \
  do {                                                                                             \
    size_t l_ = (len);                                                                             \
    if (n + l_ < sizeof msg) {                                                                     \
      memcpy(msg + n, (s), l_);                                                                    \
      n += l_;                                                                                     \
    }                                                                                              \
  } while (0)
#define PUTS(s) PUT((s), strlen(s))
  PUTS("gomalloc: GOMALLOC_SIZECLASSES=");
  PUTS(path);
  if (line) {
    char num[24];
    PUTS(": line ");
    PUT(num, gm_fmt_dec(num, line));
  }
  PUTS(": ");
  PUTS(why);
  PUTS("; using Go's size classes\n");
#undef PUTS
#undef PUT
  gm_write_stderr(msg, n);
}

bool gm_sizeclass_load(const char *path) {
  static char buf[TABLE_MAX_BYTES + 1];
  static gm_sizeclass_table_t t;
  int saved = errno;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    refuse(path, 0, errno == ENOENT ? "no such file" : errno == EACCES ? "permission denied" : "cannot open it");
    errno = saved;
    return false;
  }
  size_t len = 0;
  ssize_t r = 0;
  while (len <= TABLE_MAX_BYTES &&
         ((r = read(fd, buf + len, TABLE_MAX_BYTES + 1 - len)) > 0 || (r < 0 && errno == EINTR)))
    if (r > 0)
      len += (size_t)r;
  const char *why = r < 0 ? "cannot read it" : len > TABLE_MAX_BYTES ? "over 64 KiB: not a table" : NULL;
  close(fd);
  errno = saved;
  unsigned line = 0;
  if (!why)
    why = gm_sizeclass_parse(buf, len, &t, &line);
  if (why) {
    refuse(path, line, why);
    return false;
  }
  gm_sizeclass_install(&t);
  return true;
}
