/* How the device and worker modules hand an event to the hub without knowing it: the hub
 * registers an event_sink with each (devices_set_sink, workers_set_sink) and they call it with a
 * typed event (vc_event, include/voicecore.h: a kind, their integer ids, a text frame as it
 * arrived or PCM). Only the hub hands events to the core. An event carries its origin, so the
 * messages its effects send can be traced back to the network read that caused it
 * (hub_latency.h): there is no "current event" state anywhere else. */
#ifndef VOICECORED_EVENT_SINK_H
#define VOICECORED_EVENT_SINK_H
#include <stddef.h>
#include <stdint.h>
#include <voicecore.h>

typedef struct event_origin {
    int64_t read_us;             /* when the network message (or the timer) that caused it was read */
    uint64_t session;            /* the device session it came from, 0 for none */
} event_origin;

/* One event; its bytes are the caller's and only read during the call. Returns 0, or the core's
 * status (<0) when it rejected the event: the core has then answered the peer itself and the hub
 * has counted it, so the caller has nothing more to do. */
typedef int (*event_sink_fn)(void *ctx, const event_origin *origin, const vc_event *event);

typedef struct event_sink {
    event_sink_fn fn;            /* NULL: no hub (before it starts, after it stops) */
    void *ctx;
} event_sink;

static inline int event_sink_deliver(const event_sink *s, const event_origin *origin, const vc_event *event) {
    return s->fn ? s->fn(s->ctx, origin, event) : VC_ERR_STATE;
}

#endif
