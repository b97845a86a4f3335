/* The GOMALLOC_* option parsers (src/options.c): every accepted form of a
 * boolean, size and percentage, the malformed ones (which leave the
 * default), the table's own consistency, and loading from an environment. */
#include "unit.h"

#include "heapmap.h"
#include "internal.h"
#include "options.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

static void test_bool(void) {
  static const char *const yes[] = {"1", "on", "yes", "true"};
  static const char *const no[] = {"0", "off", "no", "false"};
  for (size_t i = 0; i < 4; i++) {
    bool b = false;
    CHECK(gm_parse_bool(yes[i], &b) && b, "%s", yes[i]);
    b = true;
    CHECK(gm_parse_bool(no[i], &b) && !b, "%s", no[i]);
  }
  static const char *const bad[] = {"", "2", "On", "YES", "tru", "true ", " 1", "offf", "-1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bool b = true;
    CHECK(!gm_parse_bool(bad[i], &b) && b, "'%s' accepted or *out written", bad[i]);
  }
}

static void test_size(void) {
  static const struct {
    const char *v;
    size_t want;
  } ok[] = {
      {"0", 0},           {"4096", 4096},           {"4k", 4096},
      {"4K", 4096},       {"2m", 2u << 20},         {"2M", 2u << 20},
      {"2G", (size_t)2 << 30}, {"2g", (size_t)2 << 30}, {"2GB", (size_t)2 << 30},
      {"2gb", (size_t)2 << 30}, {"2GiB", (size_t)2 << 30}, {"512KiB", 512u << 10},
      {"10B", 10},        {"007", 7},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    size_t n = 12345;
    CHECK(gm_parse_size(ok[i].v, &n) && n == ok[i].want, "%s -> %zu", ok[i].v, n);
  }
  static const char *const bad[] = {"",     "abc", "12abc", "2X", "2Gi",  "2GBx", "-1",
                                    " 1",   "1 ",  "1.5G",  "K",  "2KK",  "2T",
                                    "99999999999999999999", "17179869184G"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t n = 12345;
    CHECK(!gm_parse_size(bad[i], &n) && n == 12345, "'%s' accepted or *out written", bad[i]);
  }
}

static void test_percent_count(void) {
  unsigned p = 7;
  CHECK(gm_parse_percent("10", &p) && p == 10, "10");
  CHECK(gm_parse_percent("10%", &p) && p == 10, "10%%");
  CHECK(gm_parse_percent("0", &p) && p == 0, "0");
  CHECK(gm_parse_percent("250", &p) && p == 250, "250");
  static const char *const badp[] = {"", "abc", "10x", "-5", "10%%", "%", "4294967296", "1.5"};
  for (size_t i = 0; i < sizeof badp / sizeof badp[0]; i++) {
    p = 7;
    CHECK(!gm_parse_percent(badp[i], &p) && p == 7, "'%s' accepted or *out written", badp[i]);
  }
  size_t n = 7;
  CHECK(gm_parse_count("20000", &n) && n == 20000, "20000");
  CHECK(gm_parse_count("0", &n) && n == 0, "0");
  static const char *const badc[] = {"", "x", "20k", "1.5", "-3", "12 "};
  for (size_t i = 0; i < sizeof badc / sizeof badc[0]; i++) {
    n = 7;
    CHECK(!gm_parse_count(badc[i], &n) && n == 7, "'%s' accepted or *out written", badc[i]);
  }
}

static void test_enum(void) {
  static const struct {
    const char *v;
    int want;
  } cases[] = {{"off", 0},  {"text", 1}, {"json", 2}, {"0", 0},    {"no", 0},   {"false", 0},
               {"1", 1},    {"on", 1},   {"yes", 1},  {"true", 1}, {"foo", 1},  {"2", 1},
               {"JSON", 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int m = -1;
    CHECK(gm_parse_enum(cases[i].v, "off|text|json", &m) && m == cases[i].want, "%s -> %d",
          cases[i].v, m);
  }
  int m = -1;
  CHECK(!gm_parse_enum("", "off|text|json", &m) && m == -1, "empty");
}

static void test_addr(void) {
  static const struct {
    const char *v;
    bool ok;
    uintptr_t want;
  } cases[] = {
      {"random", true, 0},          {"fixed", true, GM_OPT_ADDR_FIXED},
      {"0x234500000000", true, 0x234500000000}, {"0XABCdef000", true, 0xabcdef000},
      {"4096", true, 4096},         {"0", false, 0}, {"0x", false, 0}, {"0x0", false, 0},
      {"0x1000000000000", false, 0}, {"0x12g", false, 0}, {"12k", false, 0}, {"", false, 0},
      {"0x10000000000000000", false, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uintptr_t a = 77;
    bool ok = gm_parse_addr(cases[i].v, &a);
    CHECK(ok == cases[i].ok && (ok ? a == cases[i].want : a == 77), "addr '%s': %d %#lx",
          cases[i].v, ok, (unsigned long)a);
  }
}

static void test_table(void) {
  size_t n;
  const gm_option_t *t = gm_options_table(&n);
  CHECK(n >= 9, "%zu options", n);
  for (size_t i = 0; i < n; i++) {
    CHECK(strncmp(t[i].name, "GOMALLOC_", 9) == 0, "%s", t[i].name);
    CHECK(t[i].help && t[i].help[0] && t[i].value && t[i].value[0], "%s: help", t[i].name);
    CHECK((t[i].kind == GM_OPT_ENUM) == (t[i].choices != NULL), "%s: choices", t[i].name);
    CHECK(t[i].offset + t[i].size <= sizeof(gm_options_t), "%s: field", t[i].name);
    for (size_t j = 0; j < i; j++)
      CHECK(strcmp(t[i].name, t[j].name) != 0, "%s twice", t[i].name);
    /* The default parses as its kind into a field of the right size. */
    gm_options_t o;
    memset(&o, 0, sizeof o);
    CHECK(gm_option_parse(&t[i], t[i].dflt, &o), "%s: default '%s'", t[i].name, t[i].dflt);
  }
}

/* A fake environment for gm_options_load. */
static const char *const *env;
static char *lookup(const char *name) {
  for (const char *const *e = env; *e; e += 2)
    if (strcmp(e[0], name) == 0)
      return (char *)e[1];
  return NULL;
}

static void check_defaults(const gm_options_t *o, const char *what) {
  CHECK(!o->align8, "%s: align8", what);
  CHECK(o->stats == GM_OPT_STATS_OFF, "%s: stats %d", what, o->stats);
  CHECK(o->stats_file[0] == 0 && o->heapmap_file[0] == 0, "%s: files", what);
  CHECK(o->heapmap_max_spans == GM_HEAPMAP_MAX_SPANS, "%s: max spans %zu", what,
        o->heapmap_max_spans);
  CHECK(o->scavenger, "%s: scavenger", what);
  CHECK(o->scavenger_margin == 10, "%s: margin %u", what, o->scavenger_margin);
  CHECK(o->retain_max == 0, "%s: retain max %zu", what, o->retain_max);
  CHECK(o->report_pid == 0, "%s: report pid %zu", what, o->report_pid);
  CHECK(o->heap_base == 0, "%s: heap base %#lx", what, (unsigned long)o->heap_base);
}

static void test_load(void) {
  gm_options_t o;
  static const char *const none[] = {NULL};
  env = none;
  gm_options_load(&o, lookup);
  check_defaults(&o, "unset");

  static const char *const empty[] = {
      "GOMALLOC_ALIGN8", "", "GOMALLOC_STATS", "", "GOMALLOC_STATS_FILE", "",
      "GOMALLOC_HEAPMAP", "", "GOMALLOC_HEAPMAP_MAX_SPANS", "", "GOMALLOC_SCAVENGER", "",
      "GOMALLOC_SCAVENGER_MARGIN", "", "GOMALLOC_RETAIN_MAX", "", "GOMALLOC_REPORT_PID", "",
      NULL};
  env = empty;
  gm_options_load(&o, lookup);
  check_defaults(&o, "empty");

  /* Malformed values leave the defaults. */
  static const char *const bad[] = {
      "GOMALLOC_ALIGN8", "maybe", "GOMALLOC_HEAPMAP_MAX_SPANS", "20k",
      "GOMALLOC_SCAVENGER", "nope", "GOMALLOC_SCAVENGER_MARGIN", "abc",
      "GOMALLOC_RETAIN_MAX", "2X", "GOMALLOC_REPORT_PID", "12abc", NULL};
  env = bad;
  gm_options_load(&o, lookup);
  check_defaults(&o, "malformed");

  /* A file name too long for its buffer is ignored (with a warning). */
  static char longname[GM_OPT_PATH_MAX + 8];
  memset(longname, 'x', sizeof longname - 1);
  static const char *const toolong[] = {"GOMALLOC_STATS_FILE", longname, NULL};
  env = toolong;
  fprintf(stderr, "(a warning about a long file name is expected next)\n");
  gm_options_load(&o, lookup);
  check_defaults(&o, "long file name");

  static const char *const set[] = {
      "GOMALLOC_ALIGN8", "yes", "GOMALLOC_STATS", "json", "GOMALLOC_STATS_FILE", "s.%p.txt",
      "GOMALLOC_HEAPMAP", "h.html", "GOMALLOC_HEAPMAP_MAX_SPANS", "5",
      "GOMALLOC_SCAVENGER", "false", "GOMALLOC_SCAVENGER_MARGIN", "25%",
      "GOMALLOC_RETAIN_MAX", "3G", "GOMALLOC_REPORT_PID", "4242", NULL};
  env = set;
  gm_options_load(&o, lookup);
  CHECK(o.align8, "align8");
  CHECK(o.stats == GM_OPT_STATS_JSON, "stats %d", o.stats);
  CHECK(strcmp(o.stats_file, "s.%p.txt") == 0, "stats file %s", o.stats_file);
  CHECK(strcmp(o.heapmap_file, "h.html") == 0, "heapmap %s", o.heapmap_file);
  CHECK(o.heapmap_max_spans == 5, "max spans %zu", o.heapmap_max_spans);
  CHECK(!o.scavenger, "scavenger");
  CHECK(o.scavenger_margin == 25, "margin %u", o.scavenger_margin);
  CHECK(o.retain_max == (size_t)3 << 30, "retain max %zu", o.retain_max);
  CHECK(o.report_pid == 4242, "report pid %zu", o.report_pid);

  /* What gm_init read is what the loader makes of this process's
   * environment. */
  gm_init();
  gm_options_load(&o, getenv);
  CHECK(memcmp(&o, &gm_options, sizeof o) == 0, "gm_options differs from a fresh load");
}

int main(void) {
  test_bool();
  test_size();
  test_percent_count();
  test_enum();
  test_addr();
  test_table();
  test_load();
  return unit_done("test_options");
}
