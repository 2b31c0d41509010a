/* The Coordinator's timers on one uv_timer: a min-heap of deadlines keyed by the core's timer
 * ids; setting an id again moves it, cancelling an unknown id is a no-op. */
#ifndef VOICECORED_TIMERS_H
#define VOICECORED_TIMERS_H
#include "idmap.h"
#include <stdint.h>
#include <uv.h>

typedef void (*timer_fired_fn)(void *context, uint64_t id);

typedef struct timer_entry {
    uint64_t id;
    int64_t at_us;
    size_t heap_index;
} timer_entry;

typedef struct timers {
    uv_timer_t handle;
    idmap by_id;
    timer_entry **heap;
    size_t count, cap;
    int64_t (*now_us)(void);
    timer_fired_fn fired;
    void *context;
} timers;

int timers_init(timers *t, uv_loop_t *loop, int64_t (*now_us)(void), timer_fired_fn fired, void *context);
int timers_set(timers *t, uint64_t id, int64_t at_us);
void timers_cancel(timers *t, uint64_t id);
size_t timers_pending(const timers *t);
void timers_free(timers *t);

#endif
