/* Devices: one XiaoZhi device per WebSocket on /xiaozhi/v1/ (an endpoint of the transport). Its
 * text frames are handed to the hub as they arrived, as typed events (event_sink.h), and the
 * Coordinator parses and validates them (it decides the protocol, the hello and its timeout
 * included, and answers what it rejects); binary frames are unwrapped per protocol version and
 * decoded to 16 kHz PCM once the core has answered the hello; the hub's effects come back as the
 * device_* calls below: text frames the core made to send, downlink PCM to encode and pace out
 * with the core's in-band sentence_start and stop frames, flushes and closes. A session's state
 * lives in its device_session (device_session.c), created when its WebSocket opens and freed when
 * it closes; its id is the session id the core knows it by. */
#ifndef VOICECORED_DEVICE_SESSION_H
#define VOICECORED_DEVICE_SESSION_H
#include "config.h"
#include "event_sink.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "transport.h"

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
 * A text frame the core made (NUL-terminated, len bytes), sent as it is. hello: it is the server
 * hello (the device may send audio from now on); tts_start: a reply's audio follows, and
 * origin_us (when the message that caused it was read) starts its first_frame hop. */
void device_send_text(devices *d, uint64_t session, const char *text, size_t len, int hello, int tts_start, int64_t origin_us);
/* Queues PCM for paced playback (rate 0: 24 kHz); frame (NUL-terminated, or NULL) is a text frame
 * to send when this audio reaches the head of the queue. */
void device_queue_audio(devices *d, uint64_t session, int64_t turn, const int16_t *pcm, size_t samples, int rate,
                        const char *frame);
/* After turn's queued audio: send frame (NUL-terminated, or NULL), report the playback done. */
void device_audio_end(devices *d, uint64_t session, int64_t turn, const char *frame);
void device_flush(devices *d, uint64_t session);
/* paused 1: no frame goes out (the queue keeps filling and its position is kept; the device plays
 * out the frames it holds, then nothing); 0: pacing goes on from there. A flush also ends a pause.
 * device_drops (with paused 1): the device is told to drop the frames it holds, so the ones it may
 * not have played are queued again first (playout_rewind). */
void device_pause(devices *d, uint64_t session, int paused, int device_drops);
/* code: the WebSocket close code the core chose (0: 1000). */
void device_close_session(devices *d, uint64_t session, int code, const char *reason);

#endif
