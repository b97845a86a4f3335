/* fuzz_api.h: what the replay runner (replay.c) shares with the harness
 * (fuzz_api.c); libFuzzer needs only the two entry points. */
#ifndef GM_FUZZ_API_H
#define GM_FUZZ_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Harness self-tests (replay --corrupt): after the 20th operation,
 * 1 flips a byte of a live block behind the model's back, 2 records a new
 * block's range twice; either must end in a failure report. */
extern int fuzz_corrupt;
/* Report a failure, then exit with status 0 instead of aborting. */
extern bool fuzz_expect_failure;

#endif
