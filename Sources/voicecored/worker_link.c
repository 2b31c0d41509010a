#include "worker_link.h"
#include "frame_header.h"
#include "http.h"
#include "http_request.h"
#include "monotonic.h"
#include "worker_message.h"
#include <stdlib.h>
#include <string.h>

typedef struct worker_link {
    workers *owner;
    conn *c;
    uint64_t id;                 /* the worker "w<id>" */
} worker_link;

static void worker_name(uint64_t id, char *out, size_t len) { snprintf(out, len, "w%llu", (unsigned long long)id); }

static void reply_error(conn *c, const char *message, int has_job, uint64_t job) {
    json_t *j = has_job ? json_pack("{s:s,s:s,s:I}", "type", "error", "message", message, "job", (json_int_t)job)
                        : json_pack("{s:s,s:s}", "type", "error", "message", message);
    char *text = json_dumps(j, JSON_COMPACT);
    if (text) conn_send(c, 0, NULL, 0, text, strlen(text));
    free(text);
    json_decref(j);
}

/* Hands an event to the hub; a rejected worker message is answered to the worker, a rejected
 * event the daemon made up itself is only logged. */
static int deliver(worker_link *l, const event_origin *origin, json_t *event, const void *data, size_t data_len, int has_job,
                   uint64_t job, int answer) {
    workers *w = l->owner;
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    if (!text) return -1;
    char error[512];
    int rc = event_sink_deliver(&w->sink, origin, text, strlen(text), data, data_len, error, sizeof error);
    if (rc < 0) {
        w->metrics->errors[ERR_CORE_REJECTED]++;
        if (answer && !l->c->closed) reply_error(l->c, error, has_job, job);
        else
            log_event(w->log, LOG_ERROR, "core.rejected", json_pack("{s:s,s:s}", "event", text, "error", error));
    }
    free(text);
    return rc;
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
    deliver(l, &origin, json_pack("{s:s,s:s}", "type", "worker.connected", "worker", name), NULL, 0, 0, 0, 0);
    return l;
}

static void worker_message_in(void *user, const uint8_t *data, size_t len, int binary, int64_t read_us) {
    worker_link *l = user;
    workers *w = l->owner;
    conn *c = l->c;
    event_origin origin = {read_us, 0};
    char name[32];
    worker_name(l->id, name, sizeof name);
    if (binary) {
        worker_frame f;
        const char *error = NULL;
        if (worker_frame_parse(data, len, &f, &error) != 0) {
            w->metrics->errors[ERR_BAD_FRAME]++;
            reply_error(c, error, 0, 0);
            return;
        }
        deliver(l, &origin,
                json_pack("{s:s,s:s,s:I,s:b}", "type", "worker.audio", "worker", name, "job", (json_int_t)f.job, "last",
                          (f.flags & WORKER_FRAME_FLAG_LAST) != 0),
                f.payload, f.payload_len, 1, f.job, 1);
        return;
    }
    worker_message m;
    char error[256];
    if (worker_message_parse((const char *)data, len, &m, error, sizeof error) != 0) {
        w->metrics->errors[ERR_MALFORMED_JSON]++;
        log_event(w->log, LOG_WARN, "worker.bad_message", json_pack("{s:s,s:s}", "worker", name, "error", error));
        reply_error(c, error, 0, 0);
        return;
    }
    json_t *job = json_object_get(m.root, "job");  /* for the answer to a rejected message only */
    int has_job = json_is_integer(job) && json_integer_value(job) >= 0;
    uint64_t job_id = has_job ? (uint64_t)json_integer_value(job) : 0;
    deliver(l, &origin, json_pack("{s:s,s:s,s:o}", "type", "worker.message", "worker", name, "message", m.root), NULL, 0, has_job,
            job_id, 1);
}

static void worker_closed(void *user) {
    worker_link *l = user;
    workers *w = l->owner;
    idmap_remove(&w->links, l->id);
    w->metrics->connected[PEER_WORKER]--;
    char name[32];
    worker_name(l->id, name, sizeof name);
    log_event(w->log, LOG_INFO, "worker.disconnected", json_pack("{s:s}", "worker", name));
    json_t *event = json_pack("{s:s,s:s}", "type", "worker.disconnected", "worker", name);
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    char error[256];
    event_origin origin = {monotonic_us(), 0};
    if (text) event_sink_deliver(&w->sink, &origin, text, strlen(text), NULL, 0, error, sizeof error);
    free(text);
    free(l);
}

/* A reply's assistant job and its first TTS job are hops of the turn's critical path. */
static void trace_job(conn *c, json_t *message, int64_t origin_us) {
    const char *kind = json_string_value(json_object_get(message, "kind"));
    const char *session = json_string_value(json_object_get(message, "session"));
    json_int_t turn = json_integer_value(json_object_get(message, "turn"));
    if (!kind || !session || session[0] != 's') return;
    uint64_t id = strtoull(session + 1, NULL, 10);
    if (!strcmp(kind, "assistant")) {
        conn_trace_last(c, HUB_HOP_ASSISTANT_JOB, id, turn, origin_us);
    } else if (!strcmp(kind, "tts")) {
        json_t *segment = json_object_get(json_object_get(message, "params"), "segment");
        if (json_is_integer(segment) && json_integer_value(segment) == 0)
            conn_trace_last(c, HUB_HOP_TTS_JOB, id, turn, origin_us);
    }
}

void worker_send(workers *w, uint64_t worker, json_t *message, const void *audio, size_t audio_len, const event_origin *cause) {
    worker_link *l = idmap_get(&w->links, worker);
    if (!l || l->c->closed) {
        w->metrics->errors[ERR_UNKNOWN_PEER]++;
        return;
    }
    conn *c = l->c;
    const char *type = json_string_value(json_object_get(message, "type"));
    json_t *job = json_object_get(message, "job");
    if (type && !strcmp(type, "audio") && json_is_integer(job)) {
        uint8_t header[WORKER_FRAME_HEADER];
        worker_frame_header((uint64_t)json_integer_value(job), json_is_true(json_object_get(message, "last")), header);
        if (conn_send(c, 1, header, sizeof header, audio, audio_len) == 0 && cause->session)
            conn_trace_last(c, HUB_HOP_UPLINK, cause->session, 0, cause->read_us);
        return;
    }
    char *text = json_dumps(message, JSON_COMPACT);
    int sent = text ? conn_send(c, 0, NULL, 0, text, strlen(text)) : -1;
    free(text);
    if (sent == 0 && type && !strcmp(type, "job")) trace_job(c, message, cause->read_us);
}

void worker_close(workers *w, uint64_t worker, const char *reason) {
    worker_link *l = idmap_get(&w->links, worker);
    if (l) conn_close(l->c, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
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
