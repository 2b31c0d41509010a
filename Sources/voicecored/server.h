/* The daemon's shared state and the one libwebsockets protocol callback that routes every
 * connection on the port: plain HTTP (OTA, health, metrics, the page), devices (/xiaozhi/v1/)
 * and workers (/worker). */
#ifndef VOICECORED_SERVER_H
#define VOICECORED_SERVER_H
#include "admission.h"
#include "config.h"
#include "hub_latency.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "opus_codec.h"
#include "outqueue.h"
#include "playout.h"
#include "uplink_budget.h"
#include <libwebsockets.h>
#include <uv.h>

typedef struct hub hub;
typedef struct server server;

typedef enum { CONN_HTTP, CONN_DEVICE, CONN_WORKER } conn_kind;

typedef struct device_state {
    int protocol_version;
    char device_id[65];
    char client_id[65];
    int authenticated;
    int hello_seen;
    /* Codecs are created at first use: an idle device costs no Opus state. */
    int decoder_ready, playout_ready;
    uplink_decoder decoder;
    playout playout;
    uv_timer_t *pace_timer;      /* malloc'd: outlives the conn until uv_close completes */
    uint64_t bad_opus;
    uint64_t uplink_dropped;
    int frame_in_flight;         /* a frame waits in the send queue: the next is encoded once it is written */
    int budget_ready;
    uplink_budget budget;
    hub_turn_trace trace;
} device_state;

typedef struct conn {
    conn_kind kind;
    struct lws *wsi;
    server *srv;
    uint64_t id;                 /* the session / worker id, the core's too; 0 for HTTP */
    outqueue out;
    uint8_t *rx;                 /* the message being reassembled from fragments */
    size_t rx_len, rx_cap, rx_limit;
    int rx_binary, rx_discard;
    int64_t rx_first_us;         /* when the first fragment of the message being read arrived */
    uint64_t rx_first_iteration; /* the loop iteration that read it */
    int close_code;              /* nonzero: close once the queue is written */
    char close_reason[100];
    int close_sent;
    int closed;
    int touched;                 /* listed in srv->touched: written eagerly after the current message */
    int guard_fd;                /* the socket frame_guard follows for this WebSocket, or -1 */
    /* HTTP */
    int http_route;
    size_t http_body_in;
    char *http_response;
    size_t http_response_len;
    int http_status;
    const char *http_content_type;
    device_state *device;
} conn;

struct server {
    uv_loop_t *loop;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    config *cfg;
    logger log;
    metrics metrics;
    hub *hub;
    idmap devices, workers;
    uint64_t next_device_id, next_worker_id;
    int draining;
    int port;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    uv_prepare_t write_touched;
    /* Admission of connections before their request (admission.h), checked on a timer that also
     * hands freed heap back to the OS after connections close. */
    admission admission;
    uv_timer_t housekeeping;
    uint64_t housekeeping_ticks;
    uint64_t closed_since_trim, closed_at_last_tick;
    int64_t last_trim_us;
    uint64_t memory_trims;
    uint64_t admission_logged;   /* refusals+evictions+timeouts already logged */
    lws_retry_bo_t ping_policy;  /* lws's idle policy: WebSocket ping and hang-up times */
    /* Where the last iteration ended (uv_metrics_idle_time counts the time spent in poll). */
    int64_t loop_mark_us;
    uint64_t loop_idle_mark_ns;
    uint64_t loop_iteration;
    int64_t drain_deadline_us;
    /* Connections given messages while the current network message was handled: they are written
     * as soon as it is done, rather than a loop iteration later from a writable callback. */
    conn *touched[64];
    int touched_len;
    /* The network message being handled: when it was read and, for a device, its session. */
    int64_t event_origin_us;
    uint64_t event_session;
};

int64_t monotonic_us(void);

int server_start(server *s, uv_loop_t *loop, config *cfg);
void server_begin_drain(server *s, const char *reason);
void server_destroy(server *s);

/* Connection plumbing shared by the route files. */
conn *conn_new(server *s, struct lws *wsi, conn_kind kind, size_t rx_limit, size_t send_limit);
/* Queues a message; on overflow of the send bound the connection is closed (1008). */
int conn_send(conn *c, int binary, const void *header, size_t header_len, const void *body, size_t body_len);
/* Tags the message conn_send just queued as completing a traced hop (hub_latency.h). */
void conn_trace_last(conn *c, hub_hop hop, uint64_t session, int64_t turn, int64_t origin_us);
void conn_close(conn *c, int code, const char *reason);
/* Writes the messages queued since the last call on connections whose sockets take them now. */
void server_write_touched(server *s);
void conn_send_error(conn *c, const char *message);
metrics_gauges server_gauges(server *s);

/* An HTTP response is complete: -1 closes the connection, 0 keeps it for its next request. */
int server_http_completed(server *s, struct lws *wsi);

/* HTTP routes (http_routes.c). */
int http_route_request(server *s, struct lws *wsi, const char *path);
int http_route_body(server *s, conn *c, const void *in, size_t len);
int http_route_body_done(server *s, conn *c);
int http_route_writeable(server *s, conn *c);
/* Decides whether a WebSocket upgrade may proceed: 0 yes, >0 refused with an HTTP status. */
int http_route_upgrade(server *s, struct lws *wsi);

/* What a WebSocket upgrade request says about its peer, validated (http_routes.c). */
typedef struct upgrade_request {
    int kind;                    /* CONN_DEVICE, CONN_WORKER, or -1: no such endpoint */
    int protocol_version;
    char device_id[65];
    char client_id[65];
    int authenticated;           /* the device presented a configured token */
    int status;                  /* 0: admitted; else the HTTP status refusing it */
    const char *why;
} upgrade_request;
void upgrade_request_read(server *s, struct lws *wsi, upgrade_request *r);

/* Devices (device_session.c). */
conn *device_open(server *s, struct lws *wsi);
void device_message_in(conn *c, const uint8_t *data, size_t len, int binary);
void device_closed(conn *c);
/* A text frame the core made (NUL-terminated, len bytes), sent as it is. hello: it is the server
 * hello (the device may send audio from now on); tts_start: a reply's audio follows. */
void device_send_text(server *s, uint64_t session, const char *text, size_t len, int hello, int tts_start);
/* Queues PCM for paced playback; frame (NUL-terminated, or NULL) is a text frame to send when this
 * audio reaches the head of the queue. */
void device_queue_audio(server *s, uint64_t session, int64_t turn, const int16_t *pcm, size_t samples, int rate, const char *frame);
/* After turn's queued audio: send frame (NUL-terminated), report the playback done. */
void device_audio_end(server *s, uint64_t session, int64_t turn, const char *frame);
void device_flush(server *s, uint64_t session);
/* A downlink frame of this device was written to its socket: the next may be encoded. */
void device_frame_written(conn *c);
void device_close_session(server *s, uint64_t session, int code, const char *reason);
void device_drain(server *s);

/* Workers (worker_link.c). */
conn *worker_open(server *s, struct lws *wsi);
void worker_message_in(conn *c, const uint8_t *data, size_t len, int binary);
void worker_closed(conn *c);
/* A text frame the core made, sent as it is; hop tags it as a traced hop of session's turn
 * (hub_latency.h; HUB_HOP_NONE: none). */
void worker_send_text(server *s, uint64_t worker, const char *text, size_t len, hub_hop hop, uint64_t session, int64_t turn);
/* A job's ASR input: one binary frame with the job header. */
void worker_send_audio(server *s, uint64_t worker, uint64_t job, const void *pcm, size_t len);
void worker_close(server *s, uint64_t worker, int code, const char *reason);

#endif
