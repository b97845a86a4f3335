/* gomalloc-stats.h: heap statistics and the heap map (included by gomalloc.h). */
#ifndef GOMALLOC_STATS_H
#define GOMALLOC_STATS_H
#endif
