/* Devices: one XiaoZhi device per WebSocket on /xiaozhi/v1/ (an endpoint of the transport). Its
 * text messages are parsed and handed to the hub as events, which the Coordinator validates (it
 * decides the protocol, the hello and its timeout included); binary frames are unwrapped per
 * protocol version and decoded to 16 kHz PCM once the core has answered the hello; the hub's
 * effects come back as the device_* calls below: messages to send, downlink PCM to encode and pace
 * out with its in-band sentence_start and stop markers, flushes and closes. A session's state lives
 * in its device_session (device_session.c), created when its WebSocket opens and freed when it
 * closes. */
#ifndef VOICECORED_DEVICE_SESSION_H
#define VOICECORED_DEVICE_SESSION_H
#include "config.h"
#include "event_sink.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "transport.h"
#include <jansson.h>

typedef struct devices {
    transport *t;
    const config *cfg;
    logger *log;
    metrics *metrics;
    idmap sessions;              /* session id → device_session */
    uint64_t next_id;
    event_sink sink;             /* where its events go (the hub) */
} devices;

/* Registers the /xiaozhi/v1/ endpoint and the tracing of written hops with t. */
void devices_init(devices *d, transport *t, const config *cfg, logger *log, metrics *m);
void devices_set_sink(devices *d, event_sink sink);
void devices_free(devices *d);
size_t devices_count(const devices *d);
/* Its share of /metrics: the audio frames queued for playout. */
void devices_gauges(const devices *d, metrics_gauges *g);

/* The hub's effects on a session (an unknown or closed session is counted, ERR_UNKNOWN_PEER).
 * origin_us: when the message that caused it was read (a `tts start` starts the first_frame hop). */
void device_send_message(devices *d, uint64_t session, json_t *message, int64_t origin_us);
void device_queue_audio(devices *d, uint64_t session, int64_t turn, const int16_t *pcm, size_t samples, int rate,
                        const char *sentence);
void device_audio_end(devices *d, uint64_t session, int64_t turn);
void device_flush(devices *d, uint64_t session);
void device_close_session(devices *d, uint64_t session, const char *reason);

#endif
