/* The daemon's clock: microseconds of CLOCK_MONOTONIC, the time every event is handed to the
 * Coordinator with and every timer and deadline is measured in. */
#ifndef VOICECORED_MONOTONIC_H
#define VOICECORED_MONOTONIC_H
#include <stdint.h>

int64_t monotonic_us(void);

#endif
