/* background.h: the allocator's one background thread. See background.c. */
#ifndef GM_BACKGROUND_H
#define GM_BACKGROUND_H

/* The heap grew or a large block was freed: start the background thread if
 * it is not running yet and the heap is big enough to be worth it. Must be
 * called with no allocator lock held. */
void gm_background_poke(void);

void gm_background_fork_child(void);

#endif
