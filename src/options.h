/* options.h: the GOMALLOC_* environment variables, read once at start.
 *
 * One table (options.c) names every variable the library reads, its kind,
 * its default and the field of gm_options it sets; gm_init parses them all
 * with one set of parsers before anything else looks at them. The readers
 * (size classes, scavenger, statistics, heap map) read gm_options, never
 * the environment. `gomalloc --help` prints the table and a unit test
 * checks README's options table against it. */
#ifndef GM_OPTIONS_H
#define GM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_OPT_PATH_MAX 1024 /* file names, with their NUL */

/* GOMALLOC_STATS. */
enum { GM_OPT_STATS_OFF, GM_OPT_STATS_TEXT, GM_OPT_STATS_JSON };

typedef struct gm_options {
  bool align8;                          /* GOMALLOC_ALIGN8 */
  char sizeclasses_file[GM_OPT_PATH_MAX]; /* GOMALLOC_SIZECLASSES ("" = Go's classes) */
  int stats;                            /* GOMALLOC_STATS: GM_OPT_STATS_* */
  char stats_file[GM_OPT_PATH_MAX];     /* GOMALLOC_STATS_FILE ("" = stderr) */
  char heapmap_file[GM_OPT_PATH_MAX];   /* GOMALLOC_HEAPMAP ("" = none) */
  size_t heapmap_max_spans;             /* GOMALLOC_HEAPMAP_MAX_SPANS */
  bool scavenger;                       /* GOMALLOC_SCAVENGER */
  unsigned scavenger_margin;            /* GOMALLOC_SCAVENGER_MARGIN, percent */
  size_t retain_max;                    /* GOMALLOC_RETAIN_MAX, bytes (0 = none) */
  size_t spare_caches;                  /* GOMALLOC_SPARE_CACHES */
  size_t report_pid;                    /* GOMALLOC_REPORT_PID (0 = every process) */
  uintptr_t heap_base;                  /* GOMALLOC_HEAP_BASE (0 = random) */
  bool hot;                             /* GOMALLOC_HOT */
  int gc_percent;                       /* GOMALLOC_GC_PERCENT (-1 = off) */
  bool gc_trace;                        /* GOMALLOC_GC_TRACE */
  size_t gc_signal;                     /* GOMALLOC_GC_SIGNAL (0 = SIGRTMIN+7) */
  size_t gc_markers;                    /* GOMALLOC_GC_MARKERS (0 = one per CPU) */
  size_t gc_test_noroots;               /* GOMALLOC_GC_TEST_NOROOTS: GM_GC_NOROOT_* bits */
} gm_options_t;
extern gm_options_t gm_options;

typedef enum gm_opt_kind {
  GM_OPT_BOOL,    /* bool: 1|on|yes|true or 0|off|no|false */
  GM_OPT_SIZE,    /* size_t: bytes, with an optional K, M or G (then B or iB) */
  GM_OPT_PERCENT, /* unsigned: a whole number, with an optional % */
  GM_OPT_COUNT,   /* size_t: a whole number */
  GM_OPT_PATH,    /* char[GM_OPT_PATH_MAX]: a file name */
  GM_OPT_ENUM,    /* int: the index of a name in choices; see gm_parse_enum */
  GM_OPT_ADDR,    /* uintptr_t: random (0), fixed (Go's heap start) or an address */
  GM_OPT_GCPERCENT, /* int: a percent as GM_OPT_PERCENT, or off (-1) */
} gm_opt_kind_t;

typedef struct gm_option {
  const char *name;    /* the variable */
  gm_opt_kind_t kind;
  const char *dflt;    /* the default, written as the variable would be */
  size_t offset, size; /* the field of gm_options_t it sets */
  const char *choices; /* GM_OPT_ENUM: "a|b|c", a = 0 */
  const char *value;   /* the value as help shows it: "1|json", "FILE" */
  const char *help;    /* one line */
  bool internal;       /* set by `gomalloc run`, not meant for users */
} gm_option_t;

/* The table, for `gomalloc --help` and the tests. */
const gm_option_t *gm_options_table(size_t *count);

/* Fill o from the table: each default, then each variable that lookup
 * (getenv at start) returns set and non-empty. A malformed value leaves
 * the default, silently (as the readers always did); a file name too long
 * for its buffer is ignored with a warning. Never allocates. */
void gm_options_load(gm_options_t *o, char *(*lookup)(const char *name));

/* Called once by gm_init: gm_options_load(&gm_options, getenv). */
void gm_options_read(void);

/* The parsers: true and *out set if v is well formed, else false and *out
 * untouched. */
bool gm_parse_bool(const char *v, bool *out);
bool gm_parse_size(const char *v, size_t *out);
bool gm_parse_percent(const char *v, unsigned *out);
bool gm_parse_count(const char *v, size_t *out);
/* A name from choices ("a|b|c") is its index; a boolean is 0 (false) or 1
 * (true); any other value is 1, so that an unknown value turns the option
 * on, as GOMALLOC_STATS always has. */
bool gm_parse_enum(const char *v, const char *choices, int *out);
/* "random" is 0, "fixed" GM_OPT_ADDR_FIXED, else a nonzero address below
 * 2^48, in hex (0x...) or decimal. */
bool gm_parse_addr(const char *v, uintptr_t *out);
#define GM_OPT_ADDR_FIXED ((uintptr_t)0x00c000000000) /* arena.h: GM_HEAP_BASE_FIXED */
/* Parse v as option opt into o's field; false if malformed. */
bool gm_option_parse(const gm_option_t *opt, const char *v, gm_options_t *o);

#endif
