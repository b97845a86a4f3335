/* report.h: `gomalloc report DIR`, the page drawn from a profile directory
 * (docs/profile-format.md). report_load.c reads the directory and works
 * out each class's rounding waste; report_page.c writes the page. Runs in
 * the `gomalloc` tool, on the system's malloc and stdio.
 *
 * The page is self-contained (inline SVG, one script, the heap map in an
 * iframe's srcdoc); FILE.html#selftest checks what it drew against its own
 * data and puts "SELFTEST ..." in the title and in pre#selftest-result. */
#ifndef GM_REPORT_H
#define GM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#define RP_MAX_CLASSES 68

typedef struct rp_size {
  uint64_t lo, hi, count, bytes;
} rp_size_t;

/* Requests that fell in one class (class 0: above the largest class). */
typedef struct rp_class {
  uint64_t size, span, objects; /* the class table of the run (meta) */
  uint64_t serve_lo, serve_hi;  /* the requests it serves (rp_class_of) */
  uint64_t requests, requested_bytes, class_bytes; /* class_bytes = requests * size */
} rp_class_t;

typedef struct rp_profile {
  char dir[4096];
  char program[4096], cmdline[4096], version[64];
  long pid;
  double start_unix, end_ms;
  uint64_t interval_ms, samples, requests, page_size;
  int align8, complete; /* complete: the process reached its exit handler */
  unsigned nclasses;    /* classes 1..nclasses-1 */
  rp_class_t cls[RP_MAX_CLASSES];
  rp_size_t *sizes;
  size_t nsizes;
  /* The timeline: nrows x ncols numbers, columns named. */
  char **colname;
  size_t ncols, nrows;
  double *rows;
  /* Sub-directories pid-N of other processes (--all-processes). */
  char **children;
  size_t nchildren;
  char dump[4200]; /* the heap dump's path, "" if none */
} rp_profile_t;

/* Read DIR into *p. 0, or -1 with a message in err. */
int rp_load(const char *dir, rp_profile_t *p, char *err, size_t errlen);
void rp_free(rp_profile_t *p);
/* The class a request of n bytes (n <= the largest class) gets: the
 * smallest class at least n bytes, 16-byte aligned from 17 bytes on
 * unless align8 (the library's rule, sizeclass.c). */
unsigned rp_class_of(const rp_profile_t *p, uint64_t n);
/* A timeline column's index, or -1. */
int rp_col(const rp_profile_t *p, const char *name);

/* Write the page. 0, or -1 with a message in err. */
int rp_write_page(FILE *out, const rp_profile_t *p, char *err, size_t errlen);

/* The subcommand. */
int gm_report_main(int argc, char **argv);
void gm_report_help(FILE *f);

#endif
