/* How much uplink audio a device may send: real time with some slack, plus a burst for audio a
 * device buffered (the wake word's pre-roll, catching up after a network stall). Frames beyond
 * it are dropped before they are decoded, so one device cannot flood the daemon's CPU or the
 * ASR worker link it shares with every other session. A token bucket counted in audio time. */
#ifndef VOICECORED_UPLINK_BUDGET_H
#define VOICECORED_UPLINK_BUDGET_H
#include <stdint.h>

typedef struct uplink_budget {
    int64_t tokens_us;      /* audio time that may still arrive now */
    int64_t burst_us;       /* the bucket's size */
    int64_t last_us;        /* when tokens_us was last refilled */
    int rate_percent;       /* refill speed, percent of real time */
} uplink_budget;

/* Starts full. burst_us <= 0 turns the limit off. */
void uplink_budget_init(uplink_budget *b, int64_t burst_us, int rate_percent, int64_t now_us);
/* 1 when a frame of duration_us may pass (its time is taken from the budget); 0 when it is over. */
int uplink_budget_take(uplink_budget *b, int64_t duration_us, int64_t now_us);

#endif
