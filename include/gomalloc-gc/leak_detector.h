/* leak_detector.h: Boehm's way to turn a malloc program into a collected
 * one (its leak detection mode). The calls below go to the collected heap
 * and objects are collected; no leak is reported (GC_find_leak is accepted
 * and does nothing). */
#ifndef GOMALLOC_GC_LEAK_DETECTOR_H
#define GOMALLOC_GC_LEAK_DETECTOR_H

#ifndef GC_DEBUG
#define GC_DEBUG
#endif
#include "gc.h"

#include <stdlib.h>
#include <string.h>

#undef malloc
#define malloc(n) GC_MALLOC(n)
#undef calloc
#define calloc(m, n) GC_MALLOC((m) * (n))
#undef free
#define free(p) GC_FREE(p)
#undef realloc
#define realloc(p, n) GC_REALLOC(p, n)
#undef strdup
#define strdup(s) GC_STRDUP(s)
#undef strndup
#define strndup(s, n) GC_STRNDUP(s, n)
#undef memalign
#define memalign(a, n) GC_memalign(a, n)
#undef posix_memalign
#define posix_memalign(p, a, n) GC_posix_memalign(p, a, n)
#ifndef CHECK_LEAKS
#define CHECK_LEAKS() GC_gcollect()
#endif

#endif /* GOMALLOC_GC_LEAK_DETECTOR_H */
