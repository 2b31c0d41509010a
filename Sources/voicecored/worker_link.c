/* One dial-in worker on /worker: text frames are handed to the Coordinator as they arrived and
 * binary job-audio frames unwrapped; the core parses and validates them, checks job ownership and
 * answers what it rejects. Its messages and ASR audio go back out as it made them. */
#include "frame_header.h"
#include "hub.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>

static void worker_name(uint64_t id, char *out, size_t len) { snprintf(out, len, "w%llu", (unsigned long long)id); }

conn *worker_open(server *s, struct lws *wsi) {
    upgrade_request r;
    upgrade_request_read(s, wsi, &r);
    if (r.status != 0 || r.kind != CONN_WORKER) return NULL;
    conn *c = conn_new(s, wsi, CONN_WORKER, (size_t)s->cfg->worker_max_message_bytes, (size_t)s->cfg->worker_send_queue_bytes);
    if (!c) return NULL;
    c->id = s->next_worker_id++;
    idmap_put(&s->workers, c->id, c);
    s->metrics.connections_total[PEER_WORKER]++;
    s->metrics.connected[PEER_WORKER]++;
    char name[32];
    worker_name(c->id, name, sizeof name);
    log_event(&s->log, LOG_INFO, "worker.connected", json_pack("{s:s}", "worker", name));
    hub_worker_connected(s->hub, c->id);
    return c;
}

void worker_message_in(conn *c, const uint8_t *data, size_t len, int binary) {
    server *s = c->srv;
    if (binary) {
        worker_frame f;
        const char *error = NULL;
        if (worker_frame_parse(data, len, &f, &error) != 0) {
            s->metrics.errors[ERR_BAD_FRAME]++;
            conn_send_error(c, error);
            return;
        }
        hub_worker_audio(s->hub, c->id, f.job, (f.flags & WORKER_FRAME_FLAG_LAST) != 0, f.payload, f.payload_len);
        return;
    }
    hub_worker_message(s->hub, c->id, data, len);
}

void worker_closed(conn *c) {
    server *s = c->srv;
    idmap_remove(&s->workers, c->id);
    s->metrics.connected[PEER_WORKER]--;
    char name[32];
    worker_name(c->id, name, sizeof name);
    log_event(&s->log, LOG_INFO, "worker.disconnected", json_pack("{s:s}", "worker", name));
    hub_worker_disconnected(s->hub, c->id);
}

static conn *find(server *s, uint64_t worker) {
    conn *c = idmap_get(&s->workers, worker);
    if (!c || c->closed) {
        s->metrics.errors[ERR_UNKNOWN_PEER]++;
        return NULL;
    }
    return c;
}

void worker_send_text(server *s, uint64_t worker, const char *text, size_t len, hub_hop hop, uint64_t session, int64_t turn) {
    conn *c = find(s, worker);
    if (!c || !text) return;
    if (conn_send(c, 0, NULL, 0, text, len) == 0 && hop != HUB_HOP_NONE) conn_trace_last(c, hop, session, turn, s->event_origin_us);
}

void worker_send_audio(server *s, uint64_t worker, uint64_t job, const void *pcm, size_t len) {
    conn *c = find(s, worker);
    if (!c) return;
    uint8_t header[WORKER_FRAME_HEADER];
    worker_frame_header(job, 0, header);
    if (conn_send(c, 1, header, sizeof header, pcm, len) == 0 && s->event_session)
        conn_trace_last(c, HUB_HOP_UPLINK, s->event_session, 0, s->event_origin_us);
}

void worker_close(server *s, uint64_t worker, int code, const char *reason) {
    conn *c = idmap_get(&s->workers, worker);
    if (c) conn_close(c, code > 0 ? code : LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
}
