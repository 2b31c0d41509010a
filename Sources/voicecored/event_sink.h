/* How the device and worker modules hand an event to the hub without knowing it: the hub
 * registers an event_sink with each (devices_set_sink, workers_set_sink) and they call it. An
 * event carries its origin, so the messages its effects send can be traced back to the network
 * read that caused it (hub_latency.h): there is no "current event" state anywhere else. */
#ifndef VOICECORED_EVENT_SINK_H
#define VOICECORED_EVENT_SINK_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct event_origin {
    int64_t read_us;             /* when the network message (or the timer) that caused it was read */
    uint64_t session;            /* the device session it came from, 0 for none */
} event_origin;

/* One event (JSON object) with an optional binary payload. Returns 0, or <0 when the core
 * rejected the event, with its message in error. */
typedef int (*event_sink_fn)(void *ctx, const event_origin *origin, const char *json, size_t len, const void *data,
                             size_t data_len, char *error, size_t error_len);

typedef struct event_sink {
    event_sink_fn fn;            /* NULL: no hub (before it starts, after it stops) */
    void *ctx;
} event_sink;

static inline int event_sink_deliver(const event_sink *s, const event_origin *origin, const char *json, size_t len,
                                     const void *data, size_t data_len, char *error, size_t error_len) {
    if (!s->fn) {
        snprintf(error, error_len, "the daemon is shutting down");
        return -1;
    }
    return s->fn(s->ctx, origin, json, len, data, data_len, error, error_len);
}

#endif
