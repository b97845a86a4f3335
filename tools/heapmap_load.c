/* heapmap_load.c: reading a heap dump (format in src/heapdump.h) into an
 * hm_heap_t for the page writer. Runs in the `gomalloc` tool on the
 * system's malloc. A dump from a gomalloc with another page geometry, a
 * newer format or a cut file is refused with a message. */
#define _GNU_SOURCE
#include "heapmap_render.h"

#include "heapdump.h"
#include "internal.h"
#include "span.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
  char *line;
  size_t cap;
  unsigned lineno;
  char *err;
  size_t errlen;
} reader_t;

__attribute__((format(printf, 2, 3))) static int fail(reader_t *r, const char *fmt, ...) {
  int n = snprintf(r->err, r->errlen, "line %u: ", r->lineno);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < r->errlen)
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* The next line, without its newline; NULL at the end of the file. */
static char *next_line(reader_t *r, FILE *in) {
  ssize_t n = getline(&r->line, &r->cap, in);
  if (n < 0)
    return NULL;
  r->lineno++;
  if (n > 0 && r->line[n - 1] == '\n')
    r->line[n - 1] = 0;
  return r->line;
}

/* The line's tag ("span", ...) if it is one, and *rest after its space. */
static bool tag(const char *line, const char *name, const char **rest) {
  size_t l = strlen(name);
  if (strncmp(line, name, l) != 0 || (line[l] != ' ' && line[l] != 0))
    return false;
  *rest = line + l + (line[l] == ' ');
  return true;
}

/* n numbers (decimal or 0x hex) from *p; false if fewer. */
static bool numbers(const char **p, uint64_t *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char *end;
    errno = 0;
    v[i] = strtoull(*p, &end, 0);
    if (end == *p || errno || (*end != ' ' && *end != 0))
      return false;
    *p = end;
  }
  return true;
}

/* name=value fields into the uint64_t fields of a struct, by name; names
 * not in the table are skipped (a later writer may add some). */
typedef struct field {
  const char *name;
  size_t off;
} field_t;

static bool fields(const char *p, const field_t *tab, size_t ntab, void *base, double *max_waste) {
  while (*p) {
    while (*p == ' ')
      p++;
    const char *eq = strchr(p, '=');
    if (!eq)
      return *p == 0;
    size_t l = (size_t)(eq - p);
    const char *v = eq + 1;
    uint64_t x;
    if (!numbers(&v, &x, 1))
      return false;
    for (size_t i = 0; i < ntab; i++)
      if (strlen(tab[i].name) == l && strncmp(tab[i].name, p, l) == 0)
        memcpy((char *)base + tab[i].off, &x, sizeof x);
    if (max_waste && l == 9 && strncmp(p, "max_waste", 9) == 0)
      memcpy(max_waste, &x, sizeof x); /* the double's bits */
    p = v;
  }
  return true;
}

#define F_TOTAL(name) {#name, offsetof(struct gm_stats, name)},
#define F_CLASS(name) {#name, offsetof(struct gm_class_stats, name)},
static const field_t totals[] = {GM_HEAPDUMP_TOTALS(F_TOTAL)};
static const field_t class_fields[] = {GM_HEAPDUMP_CLASS(F_CLASS)};

static int load_span(reader_t *r, hm_heap_t *h, const char *p) {
  uint64_t v[11];
  if (h->nspans == h->nspans_cap)
    return fail(r, "more spans than the heap line announced");
  if (!numbers(&p, v, 11))
    return fail(r, "bad span");
  unsigned nwords = (unsigned)v[10];
  if (v[2] >= GM_NUM_SPAN_CLASSES || v[3] < GM_SPAN_CACHED || v[3] > GM_SPAN_LARGE ||
      v[4] > GM_MAX_OBJS_PER_SPAN || nwords > GM_MAX_BITMAP_WORDS ||
      (nwords && nwords != (v[4] + 63) / 64))
    return fail(r, "span field out of range");
  hm_span_t *s = &h->spans[h->nspans];
  *s = (hm_span_t){.base = (uintptr_t)v[0], .npages = (size_t)v[1], .spanclass = (uint8_t)v[2],
                   .state = (uint8_t)v[3], .nelems = (uint16_t)v[4], .alloc_count = (uint16_t)v[5],
                   .freeindex = (uint16_t)v[6], .live = (uint16_t)v[7], .elemsize = (size_t)v[8],
                   .released = (uint32_t)v[9], .bits = UINT32_MAX};
  if (nwords) {
    if (h->nwords + 2u * nwords > h->cap_words) {
      size_t cap = h->cap_words ? 2 * h->cap_words : 4096;
      uint64_t *w = realloc(h->words, cap * sizeof *w);
      if (!w)
        return fail(r, "out of memory");
      h->words = w;
      h->cap_words = cap;
    }
    if (!numbers(&p, h->words + h->nwords, 2u * nwords))
      return fail(r, "bad span bitmap");
    s->bits = (uint32_t)h->nwords;
    s->nwords = (uint8_t)nwords;
    h->nwords += 2u * nwords;
  }
  if (*p)
    return fail(r, "trailing fields in a span");
  h->nspans++;
  return 0;
}

static int load_chunk(reader_t *r, hm_heap_t *h, const char *p) {
  uint64_t base;
  if (h->nchunks == h->nchunks_cap)
    return fail(r, "more chunks than the heap line announced");
  hm_chunk_t *c = &h->chunks[h->nchunks];
  if (!numbers(&p, &base, 1) || !numbers(&p, c->alloc, HM_CHUNK_WORDS) ||
      !numbers(&p, c->scav, HM_CHUNK_WORDS) || *p)
    return fail(r, "bad chunk");
  c->base = (uintptr_t)base;
  c->y = 0;
  h->nchunks++;
  return 0;
}

/* The header, up to and including the heap line. */
static int load_header(reader_t *r, FILE *in, hm_heap_t *h) {
  const char *p, *l = next_line(r, in);
  uint64_t v[3];
  if (!l || !tag(l, GM_HEAPDUMP_MAGIC, &p))
    return fail(r, "not a gomalloc heap dump");
  if (!numbers(&p, v, 1) || v[0] != GM_HEAPDUMP_VERSION)
    return fail(r, "heap dump format %s; this tool reads version %d", p, GM_HEAPDUMP_VERSION);
  while ((l = next_line(r, in)) != NULL) {
    if (tag(l, "process", &p)) {
      char *end;
      h->pid = strtol(p, &end, 10);
      const char *ver = end + (*end == ' '), *sp = strchr(ver, ' ');
      size_t vl = sp ? (size_t)(sp - ver) : strlen(ver);
      snprintf(h->version, sizeof h->version, "%.*s", (int)vl, ver);
      h->program = strdup(sp ? sp + 1 : "?");
      if (!h->program)
        return fail(r, "out of memory");
    } else if (tag(l, "geometry", &p)) {
      if (!numbers(&p, v, 3) || v[0] != GM_PAGE_SIZE || v[1] != GM_CHUNK_PAGES ||
          v[2] != GM_ARENA_BYTES)
        return fail(r, "page geometry %s differs from this tool's (%zu %d %zu)", p, GM_PAGE_SIZE,
                    GM_CHUNK_PAGES, GM_ARENA_BYTES);
    } else if (tag(l, "totals", &p)) {
      if (!fields(p, totals, sizeof totals / sizeof totals[0], &h->st, NULL))
        return fail(r, "bad totals");
    } else if (tag(l, "class", &p)) {
      if (!numbers(&p, v, 1) || v[0] >= GM_STATS_NUM_CLASSES)
        return fail(r, "bad class number");
      struct gm_class_stats *cs = &h->st.classes[v[0]];
      if (!fields(p, class_fields, sizeof class_fields / sizeof class_fields[0], cs,
                  &cs->max_waste))
        return fail(r, "bad class fields");
    } else if (tag(l, "heap", &p)) {
      if (!numbers(&p, v, 3) || v[0] > 1)
        return fail(r, "bad heap line");
      h->detail = v[0] != 0;
      h->spans = calloc(v[1] ? v[1] : 1, sizeof *h->spans);
      h->chunks = calloc(v[2] ? v[2] : 1, sizeof *h->chunks);
      if (!h->spans || !h->chunks)
        return fail(r, "out of memory");
      h->nspans_cap = (size_t)v[1];
      h->nchunks_cap = (size_t)v[2];
      return 0;
    }
    /* Other records (from a later writer of the same version) are skipped. */
  }
  return fail(r, "the dump ends before its heap line");
}

int gm_heapmap_load(FILE *in, hm_heap_t *h, char *err, size_t errlen) {
  reader_t r = {.err = err, .errlen = errlen};
  memset(h, 0, sizeof *h);
  h->st.size = sizeof h->st;
  h->st.version = GM_STATS_VERSION;
  int rc = load_header(&r, in, h);
  const char *l, *p;
  bool ended = false;
  while (rc == 0 && !ended && (l = next_line(&r, in)) != NULL) {
    uint64_t v[2];
    if (tag(l, "span", &p))
      rc = load_span(&r, h, p);
    else if (tag(l, "chunk", &p))
      rc = load_chunk(&r, h, p);
    else if (tag(l, "end", &p))
      ended = true;
    if (ended && (!numbers(&p, v, 2) || v[0] != h->nspans || v[1] != h->nchunks))
      rc = fail(&r, "the end line does not match the spans and chunks read");
  }
  if (rc == 0 && !ended)
    rc = fail(&r, "the dump is cut short (no end line)");
  free(r.line);
  if (rc != 0)
    gm_heapmap_free(h);
  return rc;
}

void gm_heapmap_free(hm_heap_t *h) {
  free(h->program);
  free(h->spans);
  free(h->chunks);
  free(h->words);
  memset(h, 0, sizeof *h);
}
