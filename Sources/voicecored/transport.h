/* The transport: the daemon's port on the libuv loop, with libwebsockets on that loop. It admits
 * connections (admission.h), answers plain HTTP through the routes modules registered (http.h),
 * upgrades WebSockets on the paths modules registered (ws_endpoint), reassembles whole messages,
 * queues and writes outgoing ones under a byte bound, pings idle WebSockets, fails unmasked
 * frames (frame_guard.h), hands freed heap back to the OS after bursts of closes, and drains on
 * SIGTERM/SIGINT. It knows nothing of devices, workers or the core: it calls the callbacks the
 * modules above it registered, and they call the conn_* functions below. */
#ifndef VOICECORED_TRANSPORT_H
#define VOICECORED_TRANSPORT_H
#include "admission.h"
#include "config.h"
#include "http.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "outqueue.h"
#include <libwebsockets.h>
#include <uv.h>

typedef struct transport transport;
typedef struct conn conn;

/* A WebSocket endpoint: a path and what the module serving it does with its connections. */
typedef struct ws_endpoint {
    const char *label;           /* "devices": named in the answer to an upgrade on no endpoint */
    const char *path;            /* exact */
    const char *alt_path;        /* another spelling of it, or NULL */
    peer_kind peer;              /* its connections' row in the metrics and name in the logs */
    size_t max_message_bytes;    /* a larger message closes the connection (1009) */
    size_t send_queue_bytes;     /* a send queue beyond this closes the connection (1008) */
    int read_whole;              /* a message read in part is completed in the same loop iteration */
    /* The upgrade request's headers are complete: 0 admits it, else the HTTP status refusing it
     * with *why. */
    int (*check)(void *ctx, struct lws *wsi, const char **why);
    /* The WebSocket is established: the module's object for it (it may send at once), or NULL to
     * close it. */
    void *(*open)(void *ctx, conn *c);
    /* A whole message, read (its first fragment) at read_us. */
    void (*message)(void *user, const uint8_t *data, size_t len, int binary, int64_t read_us);
    /* The connection is closed: the module forgets and frees its object. */
    void (*closed)(void *user);
    /* A binary message it queued was written to the socket (NULL: not told). */
    void (*binary_written)(void *user);
    /* Draining: 1 while it still has something to send (it is then closed once that is out or the
     * drain timeout passes). Connections of an endpoint without it serve the others to the end of
     * the drain. */
    int (*drain_pending)(void *user);
    void *ctx;
} ws_endpoint;

/* A message tagged with a traced hop (conn_trace_last) was written at now_us. */
typedef void (*traced_write_fn)(void *ctx, const out_message *m, int64_t now_us);

struct conn {
    transport *t;
    struct lws *wsi;
    const ws_endpoint *ep;       /* NULL: plain HTTP */
    void *user;                  /* the module's object, from ep->open until ep->closed */
    uint64_t id;                 /* the module's id for it, named in the transport's log lines */
    uint64_t serial;             /* its key in the transport's table of WebSockets */
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
    int touched;                 /* listed in t->touched: written eagerly after the current message */
    int guard_fd;                /* the socket frame_guard follows for this WebSocket, or -1 */
    http_exchange http;          /* a plain HTTP connection's request and response */
};

#define TRANSPORT_MAX_ENDPOINTS 4

struct transport {
    uv_loop_t *loop;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    const config *cfg;
    logger *log;
    metrics *metrics;
    int draining;
    int port;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    uv_prepare_t write_touched;
    http_router router;          /* the HTTP routes modules registered */
    ws_endpoint endpoints[TRANSPORT_MAX_ENDPOINTS];
    int endpoint_count;
    char no_endpoint[160];       /* the answer to an upgrade on no endpoint */
    idmap conns;                 /* serial → every open WebSocket */
    idmap read_whole;            /* serial → the open WebSockets of read_whole endpoints */
    uint64_t next_serial;
    int open[PEER_KIND_COUNT];   /* open WebSockets by peer kind */
    traced_write_fn traced_written;
    void *traced_ctx;
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
};

/* Sets up the loop's handles; nothing listens yet. The modules register their routes and
 * endpoints next, then transport_listen opens the port (-1 with the reason logged). */
void transport_init(transport *t, uv_loop_t *loop, const config *cfg, logger *log, metrics *m);
int transport_add_route(transport *t, const http_route *route);
int transport_add_endpoint(transport *t, const ws_endpoint *ep);
void transport_on_traced_write(transport *t, traced_write_fn fn, void *ctx);
int transport_listen(transport *t);
/* Stops taking connections and closes the open ones as their endpoints allow (ws_endpoint
 * drain_pending); stops the loop when none is left or the drain timeout has passed. */
void transport_begin_drain(transport *t, const char *reason);
void transport_destroy(transport *t);
/* Writes the messages queued since the last call on connections whose sockets take them now (the
 * transport calls it after each message it hands on and once per loop iteration). */
void transport_write_touched(transport *t);
/* Its share of /metrics: draining, admission, memory trims, the bytes in send queues. */
void transport_gauges(transport *t, metrics_gauges *g);

/* Queues a message; on overflow of the send bound the connection is closed (1008). */
int conn_send(conn *c, int binary, const void *header, size_t header_len, const void *body, size_t body_len);
/* Queues {"type":"error","message":message}. */
void conn_send_error(conn *c, const char *message);
/* Tags the message conn_send just queued as completing a traced hop (hub_latency.h). */
void conn_trace_last(conn *c, hub_hop hop, uint64_t session, int64_t turn, int64_t origin_us);
/* Drops the binary messages queued and not yet written (text messages stay, in order). */
void conn_drop_binary(conn *c);
/* Closes with a WebSocket close frame once what is queued is written. */
void conn_close(conn *c, int code, const char *reason);

#endif
