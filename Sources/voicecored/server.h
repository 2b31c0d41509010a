/* The daemon's shared state and the one libwebsockets protocol callback that routes every
 * connection on the port: plain HTTP (OTA, health, metrics, the page), devices (/xiaozhi/v1/)
 * and workers (/worker). */
#ifndef VOICECORED_SERVER_H
#define VOICECORED_SERVER_H
#include "admission.h"
#include "config.h"
#include "event_sink.h"
#include "http.h"
#include "hub_latency.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "monotonic.h"
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
    uint64_t id;                 /* session "s<id>" / worker "w<id>"; 0 for HTTP */
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
    http_exchange http;          /* a plain HTTP connection's request and response */
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
    http_router router;          /* the HTTP routes modules registered */
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
};

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
void device_message_in(conn *c, const uint8_t *data, size_t len, int binary, int64_t read_us);
void device_closed(conn *c);
/* origin_us: when the message that caused it was read (a `tts start` starts the first_frame hop). */
void device_send_message(server *s, uint64_t session, json_t *message, int64_t origin_us);
void device_queue_audio(server *s, uint64_t session, int64_t turn, const int16_t *pcm, size_t samples, int rate, const char *sentence);
void device_audio_end(server *s, uint64_t session, int64_t turn);
void device_flush(server *s, uint64_t session);
/* A downlink frame of this device was written to its socket: the next may be encoded. */
void device_frame_written(conn *c);
void device_close_session(server *s, uint64_t session, const char *reason);
void device_drain(server *s);

/* Workers (worker_link.c). */
conn *worker_open(server *s, struct lws *wsi);
void worker_message_in(conn *c, const uint8_t *data, size_t len, int binary, int64_t read_us);
void worker_closed(conn *c);
/* A JSON message; or, for an `audio` message with a payload, one binary frame with the job header.
 * cause: the event whose effect it is (the hops it completes are traced from it). */
void worker_send(server *s, uint64_t worker, json_t *message, const void *audio, size_t audio_len, const event_origin *cause);
void worker_close(server *s, uint64_t worker, const char *reason);

#endif
