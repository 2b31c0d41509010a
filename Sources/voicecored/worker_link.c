/* One dial-in worker on /worker: text frames are handed to the Coordinator as they arrived and
 * binary job-audio frames unwrapped; the core parses and validates them, checks job ownership and
 * answers what it rejects. Its messages and ASR audio go back out as it made them. */
#include "worker_link.h"
#include "frame_header.h"
#include "http.h"
#include "http_request.h"
#include "monotonic.h"
#include <stdlib.h>
#include <string.h>

typedef struct worker_link {
    workers *owner;
    conn *c;
    uint64_t id;                 /* the worker id, the core's too ("w<id>" in logs) */
} worker_link;

static void worker_name(uint64_t id, char *out, size_t len) { snprintf(out, len, "w%llu", (unsigned long long)id); }

/* Hands an event to the hub (which counts and logs a rejection; the core answers the worker). */
static int deliver(worker_link *l, const event_origin *origin, vc_event e) {
    e.worker = l->id;
    return event_sink_deliver(&l->owner->sink, origin, &e);
}

/* The upgrade request of a worker: 0 admitted, else the HTTP status refusing it, with why. */
static int worker_check(void *ctx, struct lws *wsi, const char **why) {
    workers *w = ctx;
    char token[512];
    int have_token = http_presented_token(wsi, token, sizeof token) > 0;
    if (w->links.count >= (size_t)w->cfg->max_workers) {
        *why = "worker connection limit reached";
        return 503;
    }
    if (!have_token || !tokens_equal(token, w->cfg->worker_token)) {
        *why = "a valid worker bearer token is required";
        return 401;
    }
    return 0;
}

static void *worker_open(void *ctx, conn *c) {
    workers *w = ctx;
    const char *why = NULL;
    if (worker_check(w, c->wsi, &why) != 0) return NULL;
    worker_link *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->owner = w;
    l->c = c;
    l->id = c->id = w->next_id++;
    idmap_put(&w->links, l->id, l);
    w->metrics->connections_total[PEER_WORKER]++;
    w->metrics->connected[PEER_WORKER]++;
    char name[32];
    worker_name(l->id, name, sizeof name);
    log_event(w->log, LOG_INFO, "worker.connected", json_pack("{s:s}", "worker", name));
    event_origin origin = {monotonic_us(), 0};
    deliver(l, &origin, (vc_event){.kind = VC_EVENT_WORKER_CONNECTED});
    return l;
}

static void worker_message_in(void *user, const uint8_t *data, size_t len, int binary, int64_t read_us) {
    worker_link *l = user;
    workers *w = l->owner;
    event_origin origin = {read_us, 0};
    if (binary) {
        worker_frame f;
        const char *error = NULL;
        if (worker_frame_parse(data, len, &f, &error) != 0) {
            w->metrics->errors[ERR_BAD_FRAME]++;
            conn_send_error(l->c, error);   /* the binary framing is the daemon's: answered here */
            return;
        }
        deliver(l, &origin,
                (vc_event){.kind = VC_EVENT_WORKER_AUDIO, .job = f.job,
                           .flags = (f.flags & WORKER_FRAME_FLAG_LAST) ? VC_EVENT_LAST : 0u, .data = f.payload,
                           .data_len = f.payload_len});
        return;
    }
    deliver(l, &origin, (vc_event){.kind = VC_EVENT_WORKER_MESSAGE, .body = (const char *)data, .body_len = len});
}

static void worker_closed(void *user) {
    worker_link *l = user;
    workers *w = l->owner;
    idmap_remove(&w->links, l->id);
    w->metrics->connected[PEER_WORKER]--;
    char name[32];
    worker_name(l->id, name, sizeof name);
    log_event(w->log, LOG_INFO, "worker.disconnected", json_pack("{s:s}", "worker", name));
    event_origin origin = {monotonic_us(), 0};
    deliver(l, &origin, (vc_event){.kind = VC_EVENT_WORKER_DISCONNECTED});
    free(l);
}

static worker_link *find(workers *w, uint64_t worker) {
    worker_link *l = idmap_get(&w->links, worker);
    if (!l || l->c->closed) {
        w->metrics->errors[ERR_UNKNOWN_PEER]++;
        return NULL;
    }
    return l;
}

void worker_send_text(workers *w, uint64_t worker, const char *text, size_t len, hub_hop hop, uint64_t session, int64_t turn,
                      const event_origin *cause) {
    worker_link *l = find(w, worker);
    if (!l || !text) return;
    if (conn_send(l->c, 0, NULL, 0, text, len) == 0 && hop != HUB_HOP_NONE) conn_trace_last(l->c, hop, session, turn, cause->read_us);
}

void worker_send_audio(workers *w, uint64_t worker, uint64_t job, const void *pcm, size_t len, const event_origin *cause) {
    worker_link *l = find(w, worker);
    if (!l) return;
    uint8_t header[WORKER_FRAME_HEADER];
    worker_frame_header(job, 0, header);
    if (conn_send(l->c, 1, header, sizeof header, pcm, len) == 0 && cause->session)
        conn_trace_last(l->c, HUB_HOP_UPLINK, cause->session, 0, cause->read_us);
}

void worker_close(workers *w, uint64_t worker, int code, const char *reason) {
    worker_link *l = idmap_get(&w->links, worker);
    if (l) conn_close(l->c, code > 0 ? code : LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
}

void workers_init(workers *w, transport *t, const config *cfg, logger *log, metrics *m) {
    memset(w, 0, sizeof *w);
    w->t = t;
    w->cfg = cfg;
    w->log = log;
    w->metrics = m;
    idmap_init(&w->links);
    w->next_id = 1;
    transport_add_endpoint(t, &(ws_endpoint){
        .label = "workers",
        .path = "/worker",
        .alt_path = "/worker/",
        .peer = PEER_WORKER,
        .max_message_bytes = (size_t)cfg->worker_max_message_bytes,
        .send_queue_bytes = (size_t)cfg->worker_send_queue_bytes,
        .read_whole = 1,
        .check = worker_check,
        .open = worker_open,
        .message = worker_message_in,
        .closed = worker_closed,
        .ctx = w,
    });
}

void workers_set_sink(workers *w, event_sink sink) { w->sink = sink; }

void workers_free(workers *w) { idmap_free(&w->links); }

size_t workers_count(const workers *w) { return w->links.count; }
