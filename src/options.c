/* options.c: the table of GOMALLOC_* variables and their parsers.
 *
 * Every variable the library reads is a row below; gm_init reads them all
 * once, from a library constructor, before any allocation. So the parsers
 * may not allocate: they read the strings getenv returns (no copy, except
 * file names, copied into gm_options because a program may change its
 * environment before the exit report reads them) and use no stdio.
 *
 * A boolean is one of 1/on/yes/true or 0/off/no/false, for every variable:
 * before this table each reader accepted its own subset. A malformed value
 * (a boolean that is neither, a number with stray characters) leaves the
 * default, silently, as the readers did; the numbers used to take
 * strtoul's prefix ("12abc" was 12), now only well-formed values count. */
#include "options.h"

#include "error.h"
#include "internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

gm_options_t gm_options;

#define STR_(x) #x
#define STR(x) STR_(x)
#define FIELD(f) offsetof(gm_options_t, f), sizeof(((gm_options_t *)0)->f)

/* In the order of README's table. */
static const gm_option_t table[] = {
    {"GOMALLOC_STATS", GM_OPT_ENUM, "off", FIELD(stats), "off|text|json", "1|json",
     "print the size-class table and heap totals at exit (as text, or JSON)", false},
    {"GOMALLOC_STATS_FILE", GM_OPT_PATH, "", FIELD(stats_file), NULL, "FILE",
     "write the statistics to FILE instead of stderr (%p in FILE: the pid)", false},
    {"GOMALLOC_HEAPMAP", GM_OPT_PATH, "", FIELD(heapmap_file), NULL, "FILE",
     "write the heap map (one self-contained HTML page) to FILE at exit (%p: the pid)", false},
    {"GOMALLOC_HEAPMAP_MAX_SPANS", GM_OPT_COUNT, STR(GM_HEAPMAP_MAX_SPANS),
     FIELD(heapmap_max_spans), NULL, "N",
     "above N spans the heap map draws one summary per 4 MiB chunk", false},
    {"GOMALLOC_SCAVENGER", GM_OPT_BOOL, "on", FIELD(scavenger), NULL, "off",
     "off: never return memory in the background (malloc_trim(0) still does)", false},
    {"GOMALLOC_SCAVENGER_MARGIN", GM_OPT_PERCENT, "10", FIELD(scavenger_margin), NULL, "PERCENT",
     "retained memory allowed above the recent peak in use", false},
    {"GOMALLOC_RETAIN_MAX", GM_OPT_SIZE, "0", FIELD(retain_max), NULL, "SIZE",
     "hard limit on retained memory, enforced when the heap grows (0: none)", false},
    {"GOMALLOC_SPARE_CACHES", GM_OPT_COUNT, "1", FIELD(spare_caches), NULL, "N",
     "keep up to N exited threads' caches whole for new threads (0: flush them at exit)", false},
    {"GOMALLOC_ALIGN8", GM_OPT_BOOL, "off", FIELD(align8), NULL, "1",
     "let 17-24 byte requests use Go's 24-byte class (8-byte aligned)", false},
    {"GOMALLOC_HOT", GM_OPT_BOOL, "on", FIELD(hot), NULL, "off",
     "off: a freed block waits for its span's sweep instead of being handed out again at once",
     false},
    {"GOMALLOC_SIZECLASSES", GM_OPT_PATH, "", FIELD(sizeclasses_file), NULL, "FILE",
     "use the size classes in FILE (from gomalloc sizeclasses --fit); a bad table is refused",
     false},
    {"GOMALLOC_HEAP_BASE", GM_OPT_ADDR, "random", FIELD(heap_base), NULL, "fixed|ADDR",
     "put the heap at Go's 0xc000000000 (fixed) or at ADDR instead of a random base", false},
    {"GOMALLOC_GC_PERCENT", GM_OPT_GCPERCENT, "100", FIELD(gc_percent), NULL, "PERCENT|off",
     "collected heap (gm_gc_*): grow to live x (1 + PERCENT/100), at least 4 MiB x PERCENT/100, "
     "before collecting (Go's GOGC); past the largest heap so far, by 2/3 of that headroom",
     false},
    {"GOMALLOC_GC_TRACE", GM_OPT_BOOL, "off", FIELD(gc_trace), NULL, "1",
     "print one line per collection of the collected heap on stderr (Go's gctrace)", false},
    {"GOMALLOC_GC_SIGNAL", GM_OPT_COUNT, "0", FIELD(gc_signal), NULL, "SIGNO",
     "the collector's stop-the-world signal (0: SIGRTMIN+7)", false},
    {"GOMALLOC_GC_MARKERS", GM_OPT_COUNT, "0", FIELD(gc_markers), NULL, "N",
     "threads that mark a collection, the collector included (0: one per CPU, at most 8)",
     false},
    {"GOMALLOC_GC_TEST_NOROOTS", GM_OPT_COUNT, "0", FIELD(gc_test_noroots), NULL, "BITS",
     "tests only: root kinds the collector skips (src/gc.h), to show each one matters", true},
    {"GOMALLOC_REPORT_PID", GM_OPT_COUNT, "0", FIELD(report_pid), NULL, "PID",
     "only process PID writes the reports at exit (0: every process)", true},
};

const gm_option_t *gm_options_table(size_t *count) {
  *count = sizeof table / sizeof table[0];
  return table;
}

/* ---- parsers ------------------------------------------------------------------ */

bool gm_parse_bool(const char *v, bool *out) {
  static const char *const yes[] = {"1", "on", "yes", "true"};
  static const char *const no[] = {"0", "off", "no", "false"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcmp(v, yes[i]) == 0) {
      *out = true;
      return true;
    }
    if (strcmp(v, no[i]) == 0) {
      *out = false;
      return true;
    }
  }
  return false;
}

/* Leading decimal digits into *n; false if none or on overflow. */
static bool digits(const char **p, uint64_t *n) {
  const char *s = *p;
  uint64_t v = 0;
  if (*s < '0' || *s > '9')
    return false;
  for (; *s >= '0' && *s <= '9'; s++) {
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *p = s;
  *n = v;
  return true;
}

bool gm_parse_size(const char *v, size_t *out) {
  uint64_t n;
  unsigned shift = 0;
  if (!digits(&v, &n))
    return false;
  switch (*v) {
  case 'k': case 'K': shift = 10; break;
  case 'm': case 'M': shift = 20; break;
  case 'g': case 'G': shift = 30; break;
  default: break;
  }
  if (shift) {
    v++;
    if (*v == 'i' && (v[1] == 'B' || v[1] == 'b'))
      v++; /* KiB */
  }
  if (*v == 'B' || *v == 'b')
    v++;
  if (*v || n > (uint64_t)(SIZE_MAX >> shift))
    return false;
  *out = (size_t)n << shift;
  return true;
}

bool gm_parse_percent(const char *v, unsigned *out) {
  uint64_t n;
  if (!digits(&v, &n))
    return false;
  if (*v == '%')
    v++;
  if (*v || n > UINT_MAX)
    return false;
  *out = (unsigned)n;
  return true;
}

bool gm_parse_count(const char *v, size_t *out) {
  uint64_t n;
  if (!digits(&v, &n) || *v || n > SIZE_MAX)
    return false;
  *out = (size_t)n;
  return true;
}

bool gm_parse_enum(const char *v, const char *choices, int *out) {
  if (!*v)
    return false;
  size_t len = strlen(v);
  int i = 0;
  for (const char *c = choices; *c; i++) {
    const char *bar = strchr(c, '|');
    size_t n = bar ? (size_t)(bar - c) : strlen(c);
    if (n == len && memcmp(c, v, n) == 0) {
      *out = i;
      return true;
    }
    c += bar ? n + 1 : n;
  }
  bool b;
  *out = gm_parse_bool(v, &b) && !b ? 0 : 1;
  return true;
}

bool gm_parse_addr(const char *v, uintptr_t *out) {
  if (strcmp(v, "random") == 0) {
    *out = 0;
    return true;
  }
  if (strcmp(v, "fixed") == 0) {
    *out = GM_OPT_ADDR_FIXED;
    return true;
  }
  uint64_t n = 0;
  if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    const char *s = v + 2;
    if (!*s)
      return false;
    for (; *s; s++) {
      unsigned d = *s >= '0' && *s <= '9'   ? (unsigned)(*s - '0')
                   : *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10)
                   : *s >= 'A' && *s <= 'F' ? (unsigned)(*s - 'A' + 10)
                                            : 16u;
      if (d == 16 || n >> 60)
        return false;
      n = n << 4 | d;
    }
  } else if (!digits(&v, &n) || *v) {
    return false;
  }
  if (n == 0 || n >> 48)
    return false;
  *out = (uintptr_t)n;
  return true;
}

static size_t kind_size(gm_opt_kind_t k) {
  switch (k) {
  case GM_OPT_BOOL: return sizeof(bool);
  case GM_OPT_SIZE: return sizeof(size_t);
  case GM_OPT_PERCENT: return sizeof(unsigned);
  case GM_OPT_COUNT: return sizeof(size_t);
  case GM_OPT_PATH: return GM_OPT_PATH_MAX;
  case GM_OPT_ENUM: return sizeof(int);
  case GM_OPT_ADDR: return sizeof(uintptr_t);
  case GM_OPT_GCPERCENT: return sizeof(int);
  }
  return 0;
}

bool gm_option_parse(const gm_option_t *opt, const char *v, gm_options_t *o) {
  void *field = (char *)o + opt->offset;
  if (opt->size != kind_size(opt->kind))
    return false; /* a table row that does not match its field */
  switch (opt->kind) {
  case GM_OPT_BOOL: return gm_parse_bool(v, field);
  case GM_OPT_SIZE: return gm_parse_size(v, field);
  case GM_OPT_PERCENT: return gm_parse_percent(v, field);
  case GM_OPT_COUNT: return gm_parse_count(v, field);
  case GM_OPT_ENUM: return gm_parse_enum(v, opt->choices, field);
  case GM_OPT_ADDR: return gm_parse_addr(v, field);
  case GM_OPT_GCPERCENT: {
    unsigned pct;
    bool off;
    if (gm_parse_bool(v, &off) && !off && strcmp(v, "0") != 0) {
      *(int *)field = -1;
      return true;
    }
    if (!gm_parse_percent(v, &pct) || pct > INT_MAX)
      return false;
    *(int *)field = (int)pct;
    return true;
  }
  case GM_OPT_PATH: {
    size_t n = strlen(v);
    if (n >= GM_OPT_PATH_MAX)
      return false;
    memcpy(field, v, n + 1);
    return true;
  }
  }
  return false;
}

/* ---- loading ------------------------------------------------------------------ */

void gm_options_load(gm_options_t *o, char *(*lookup)(const char *name)) {
  memset(o, 0, sizeof *o);
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const gm_option_t *opt = &table[i];
    bool ok = gm_option_parse(opt, opt->dflt, o);
    GM_ASSERT(ok); /* test_options checks every default */
    (void)ok;
    const char *v = lookup(opt->name);
    if (!v || !*v)
      continue;
    if (!gm_option_parse(opt, v, o) && opt->kind == GM_OPT_PATH)
      gm_warn("a GOMALLOC_* file name is too long; ignored");
  }
}

void gm_options_read(void) { gm_options_load(&gm_options, getenv); }
