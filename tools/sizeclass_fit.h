/* sizeclass_fit.h: `gomalloc sizeclasses --fit DIR`, size classes fitted to
 * a profile's histogram of request sizes (sizeclass_fit.c). */
#ifndef GM_SIZECLASS_FIT_H
#define GM_SIZECLASS_FIT_H

#include "config.h"
#include "sizeclass_rules.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Requests of each size up to the largest small size (0: malloc(0)). */
typedef struct fit_hist {
  uint64_t count[GM_MAX_SMALL_SIZE + 1];
  uint64_t requests, bytes; /* totals over those sizes */
  uint64_t large;           /* requests above GM_MAX_SMALL_SIZE (not rounded to a class) */
} fit_hist_t;

/* Read DIR/sizes.tsv (docs/profile-format.md). 0 on success; else -1 with
 * a message naming the file and line in err. */
int fit_read_hist(const char *dir, fit_hist_t *h, char *err, size_t errlen);

/* Choose at most GM_NUM_CLASSES - 1 classes for h (see sizeclass_fit.c);
 * align8: classes need not be 16-byte aligned (for GOMALLOC_ALIGN8=1);
 * fine: 16-byte (align8: 8-byte) steps at every size, not Go's wider ones.
 * Writes class 0 and the classes into c; returns the count, or -1. */
int fit_classes(const fit_hist_t *h, bool align8, bool fine, struct sclass *c);

/* Rounding waste of h under classes c[0..n): sum of count * (class - size),
 * with malloc's lookup (16-byte aligned classes for requests >= 16 unless align8). */
uint64_t fit_waste(const fit_hist_t *h, const struct sclass *c, int n, bool align8);

/* Print c as the TSV of `gomalloc sizeclasses --tsv` (what GOMALLOC_SIZECLASSES reads). */
void fit_print_tsv(FILE *f, const struct sclass *c, int n);

/* `gomalloc sizeclasses --fit DIR`: the fitted table on stdout, after #
 * lines with the expected waste; the exit status (messages on stderr). */
int fit_sizeclasses(const char *dir, bool align8, bool fine);

#endif /* GM_SIZECLASS_FIT_H */
