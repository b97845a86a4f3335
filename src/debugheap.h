/* debugheap.h: the checked heap of debug builds (GM_DEBUG=1, `make DEBUG=1`).
 *
 * A release build detects what costs a load and a branch (double free,
 * interior and foreign pointers). A debug build also catches the two bugs
 * that corrupt user data rather than ours:
 *
 *   buffer overflow   every small block carries a trailer in its own slot:
 *                     canary bytes from the requested size up to the last 8
 *                     bytes of the slot, then the requested size and a check
 *                     word. free (and realloc) verify both, so a 1-byte or
 *                     8-byte overrun is reported at free. A large block ends
 *                     right at a PROT_NONE guard page (the first byte past a
 *                     block of a multiple of 16 bytes faults at once), with
 *                     canaries in the rest of its pages.
 *   write after free  free fills a small slot with GM_DBG_FREE_BYTE; malloc
 *                     checks the slot still holds it before handing it out.
 *                     Never-used slots are zero (fresh pages), and so are
 *                     slots the scavenger released: each OS page of a slot
 *                     must be all free bytes or all zero.
 *
 * The cost is a slot 8 bytes larger than the request, a memset and a scan
 * per malloc and free, and two VMAs per large block: for finding bugs, not
 * for production. The fast paths (mallocgc.h, free.h) divert here in debug
 * builds only; release builds compile none of this. */
#ifndef GM_DEBUGHEAP_H
#define GM_DEBUGHEAP_H

#include "span.h"

#define GM_DBG_CANARY_BYTE 0xcb /* fills the slack around blocks */
#define GM_DBG_TRAILER 8        /* bytes at the end of a small slot */

#if GM_DEBUG
/* malloc / aligned allocation (align 0 or a power of two). */
void *gm_dbg_malloc(size_t size, size_t align);
/* free's first step: validate p (aborting on bad pointers), check its
 * canaries, fill it; returns the raw block for the release free path, or
 * NULL when p was a large block, which it has freed itself. */
void *gm_dbg_free_prepare(void *p);
/* realloc's first step on live block p in span s: a large block is
 * claimed as free claims it (span.h), so that a free racing the realloc
 * finds it taken and names the double free, and the realloc never reads
 * pages that free gave back (aborts "invalid realloc" if it lost). True if
 * it was large and is now claimed: the realloc ends with gm_dbg_unclaim (p
 * stays) or gm_dbg_free_claimed (p moved). */
bool gm_dbg_claim(gm_mspan_t *s, void *p);
void gm_dbg_unclaim(gm_mspan_t *s);
void gm_dbg_free_claimed(gm_mspan_t *s, void *p);
/* realloc of block p in span s (claimed if large) to size without a new
 * block, if its class or the pages after it allow (checking its canaries
 * either way). Returns the block (a large one slides up to its new guard
 * page), or NULL if it must move. */
void *gm_dbg_resize_in_place(gm_mspan_t *s, void *p, size_t size);
/* The requested size of the live (or claimed) block p in span s. */
size_t gm_dbg_size(gm_mspan_t *s, const void *p);
/* The user pointer of large span s (0 until it is laid out). */
uintptr_t gm_dbg_large_ptr(const gm_mspan_t *s);
#endif

#endif
