/* scavenger.h: returning unused memory to the OS (Go's scavenger): the
 * policy. See scavenger.c; the thread that runs it is in background.c. */
#ifndef GM_SCAVENGER_H
#define GM_SCAVENGER_H

#include "internal.h"
#include "span.h"

/* Coarse clock of the scavenger (ticks of ~100 ms), for span ages:
 * advanced by the background thread (background.c), read by mcache's trim
 * and mcentral's lists. */
extern uint32_t gm_scav_epoch;
/* A partial span idle (on its list, no new frees) this many ticks is cold:
 * its free pages may go back (gm_mcentral_scavenge). */
#define GM_SCAV_COLD_TICKS 5

/* The retained target's memory: memory in use at each of the last
 * GM_SCAV_WINDOW_TICKS ticks ("recent": the last half second). Kept by the
 * background thread, so it starts empty whenever the thread does. */
#define GM_SCAV_WINDOW_TICKS 5
typedef struct gm_scav_window {
  size_t inuse[GM_SCAV_WINDOW_TICKS];
} gm_scav_window_t;

/* mallopt's M_TRIM_THRESHOLD and M_TOP_PAD (mallinfo.c), in bytes: the
 * free memory the background scavenger leaves resident above the recent
 * peak in use is at most trim_threshold (when set: it then replaces
 * GOMALLOC_SCAVENGER_MARGIN's percentage) and at least top_pad. Written
 * and read relaxed. GM_SCAV_UNSET: mallopt never set it. */
#define GM_SCAV_UNSET SIZE_MAX
extern size_t gm_scav_trim_threshold, gm_scav_top_pad;

/* Free heap pages in a 4 MiB chunk where pages were allocated or freed
 * within this many ticks are hot: the background scavenger releases them
 * only above the limit of gm_scavenger_target, since the program is
 * cycling memory through them and would fault them straight back in. */
#define GM_SCAV_HOT_TICKS 5

/* Once a tick: record memory in use into w and return the retained target
 * (recent peak plus margin, capped by GOMALLOC_RETAIN_MAX); *retained gets
 * the bytes retained now, *limit the bound on retained memory past which
 * hot free pages go too (twice the target; the target itself under an
 * explicit M_TRIM_THRESHOLD). Sets the page heap's clock. Takes the heap
 * lock. */
size_t gm_scavenger_target(gm_scav_window_t *w, uint32_t tick, size_t *retained, size_t *limit);

/* Release up to want bytes of free heap pages, highest first, a few MiB
 * per heap-lock hold, stopping once the caller's CPU time
 * (gm_sys_thread_cpu_ns) passes deadline (0: no deadline). With min_age,
 * only from chunks not used for that many ticks. Returns bytes released. */
size_t gm_scavenge_heap(size_t want, uint32_t min_age, uint64_t deadline);

/* Release the whole free OS pages inside span s (on a central list, its
 * mcentral lock held). Returns bytes released. */
size_t gm_scavenge_span_locked(gm_mspan_t *s);

/* Release every free heap page now (gm_release, after mcentral's forced
 * pass over the partial spans). */
size_t gm_scavenge_all(void);

#endif
