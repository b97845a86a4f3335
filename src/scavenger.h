/* scavenger.h: returning unused memory to the OS (Go's scavenger).
 * See scavenger.c for the policy. */
#ifndef GM_SCAVENGER_H
#define GM_SCAVENGER_H

#include "internal.h"
#include "span.h"

typedef struct gm_scav_options {
  bool off;            /* GOMALLOC_SCAVENGER=off: never release in the background */
  unsigned margin_pct; /* GOMALLOC_SCAVENGER_MARGIN: retained above recent peak, % (10) */
  size_t retain_max;   /* GOMALLOC_RETAIN_MAX: hard limit on retained bytes (0 = none) */
} gm_scav_options_t;
extern gm_scav_options_t gm_scav_options;

/* Coarse clock of the scavenger (ticks of ~100 ms), for span ages. */
extern uint32_t gm_scav_epoch;
/* A partial span idle (on its list, no new frees) this many ticks is cold:
 * its free pages may go back (gm_mcentral_scavenge). */
#define GM_SCAV_COLD_TICKS 5

void gm_scavenger_read_options(void);

/* The heap grew or a large block was freed: start the background thread if
 * it is not running yet and the heap is big enough to be worth it. Must be
 * called with no allocator lock held. */
void gm_scavenger_poke(void);

/* Release the whole free OS pages inside span s (on a central list, its
 * mcentral lock held). Returns bytes released. */
size_t gm_scavenge_span_locked(gm_mspan_t *s);

/* Release everything that can be released now (malloc_trim). */
size_t gm_scavenge_all(void);

void gm_scavenger_after_fork_child(void);

#endif
