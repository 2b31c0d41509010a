#include "transport.h"
#include "frame_guard.h"
#include "monotonic.h"
#include "utf8_trim.h"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

static const char *peer_name(const conn *c) { return c->ep && c->ep->peer == PEER_WORKER ? "worker" : "device"; }

static conn *conn_new(transport *s, struct lws *wsi, size_t rx_limit, size_t send_limit) {
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->wsi = wsi;
    c->t = s;
    c->rx_limit = rx_limit;
    c->guard_fd = -1;
    outqueue_init(&c->out, send_limit);
    lws_set_opaque_user_data(wsi, c);
    return c;
}

static void conn_free(conn *c) {
    frame_guard_forget(c->guard_fd, c);
    for (int i = 0; c->touched && i < c->t->touched_len; i++)
        if (c->t->touched[i] == c) c->t->touched[i] = NULL;
    outqueue_clear(&c->out);
    free(c->rx);
    http_exchange_free(&c->http);
    free(c);
}

void conn_close(conn *c, int code, const char *reason) {
    if (c->close_code || c->closed) return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    utf8_trim_partial(c->close_reason);
    lws_callback_on_writable(c->wsi);
}

int conn_send(conn *c, int binary, const void *header, size_t header_len, const void *body, size_t body_len) {
    if (c->close_code || c->closed) return -1;
    int rc = outqueue_push(&c->out, binary, header, header_len, body, body_len);
    if (rc == -1) {
        c->t->metrics->errors[ERR_SEND_QUEUE_OVERFLOW]++;
        log_event(c->t->log, LOG_WARN, "send_queue.overflow",
                  json_pack("{s:s,s:I,s:I}", "peer", peer_name(c), "id", (json_int_t)c->id, "queued_bytes", (json_int_t)c->out.bytes));
        /* The peer reads slower than we produce: drop what it has not taken and let it go. */
        outqueue_clear(&c->out);
        conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue overflow: the peer reads too slowly");
        return -1;
    }
    if (rc < 0) return -1;
    lws_callback_on_writable(c->wsi);
    transport *s = c->t;
    if (!c->touched && c->ep && s->touched_len < (int)(sizeof s->touched / sizeof *s->touched)) {
        c->touched = 1;
        s->touched[s->touched_len++] = c;
    }
    return 0;
}

void conn_trace_last(conn *c, hub_hop hop, uint64_t session, int64_t turn, int64_t origin_us) {
    out_message *m = c->out.tail;
    if (!m || origin_us <= 0) return;
    m->hop = (uint8_t)hop;
    m->session = session;
    m->turn = turn;
    m->origin_us = origin_us;
}

void conn_send_error(conn *c, const char *message) {
    json_t *j = json_pack("{s:s,s:s}", "type", "error", "message", message);
    char *text = json_dumps(j, JSON_COMPACT);
    if (text) conn_send(c, 0, NULL, 0, text, strlen(text));
    free(text);
    json_decref(j);
}

void conn_drop_binary(conn *c) {
    /* Frames already handed to the send queue but not yet written go too. */
    outqueue kept;
    outqueue_init(&kept, c->out.limit);
    out_message *m;
    while ((m = outqueue_pop(&c->out))) {
        if (m->binary) {
            free(m);
            continue;
        }
        m->next = NULL;
        if (kept.tail) kept.tail->next = m; else kept.head = m;
        kept.tail = m;
        kept.bytes += m->len;
        kept.count++;
    }
    c->out = kept;
}

void transport_on_traced_write(transport *t, traced_write_fn fn, void *ctx) {
    t->traced_written = fn;
    t->traced_ctx = ctx;
}

/* Messages written per writable callback at most: a worker link carries hundreds of sessions'
 * audio, and one message per loop iteration would cap it at the loop's iteration rate. */
#define WRITES_PER_CALLBACK 32

static int write_next(conn *c) {
    if (c->out.head) {
        for (int i = 0; i < WRITES_PER_CALLBACK && c->out.head; i++) {
            /* Write on only while the socket takes it whole; lws buffers a partial write itself. */
            if (i > 0 && lws_send_pipe_choked(c->wsi)) break;
            out_message *m = outqueue_pop(&c->out);
            int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            peer_kind p = c->ep->peer;
            c->t->metrics->bytes_out[p] += m->len;
            c->t->metrics->messages_out[p]++;
            if (m->hop && n >= 0 && c->t->traced_written) c->t->traced_written(c->t->traced_ctx, m, monotonic_us());
            int frame = m->binary && c->ep->binary_written;
            free(m);
            if (n < 0) return -1;
            /* The module may queue its next frame now (device audio is paced by these). */
            if (frame && c->user && !c->closed) c->ep->binary_written(c->user);
        }
        if (c->out.head || c->close_code) lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_code && !c->close_sent) {
        /* The close frame is written here rather than through lws_close_reason() + return -1:
         * on the libuv event loop lws 4.1 tears the socket down before that frame leaves. The
         * peer answers with its own close, which ends the connection; a peer that does not is
         * cut off after two seconds. */
        uint8_t frame[LWS_PRE + 2 + sizeof c->close_reason];
        size_t reason_len = strlen(c->close_reason);
        frame[LWS_PRE] = (uint8_t)(c->close_code >> 8);
        frame[LWS_PRE + 1] = (uint8_t)c->close_code;
        memcpy(frame + LWS_PRE + 2, c->close_reason, reason_len);
        c->close_sent = 1;
        /* 4 is lws's LWS_WRITE_CLOSE, which the public header no longer names. */
        if (lws_write(c->wsi, frame + LWS_PRE, 2 + reason_len, (enum lws_write_protocol)4) < 0) return -1;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
    }
    return 0;
}

/* Writes what the message just handled queued, while the sockets take it. A writable callback
 * would come only after lws has served every other connection that was ready in this loop
 * iteration — at 500 talking sessions several milliseconds on each hop of a turn. The writable
 * request conn_send made stays, so whatever is not written here is written from it as before. */
void transport_write_touched(transport *s) {
    for (int i = 0; i < s->touched_len; i++) {
        conn *c = s->touched[i];
        if (!c) continue;
        c->touched = 0;
        s->touched[i] = NULL;
        if (c->closed || c->close_code || !c->out.head || lws_send_pipe_choked(c->wsi)) continue;
        if (write_next(c) < 0) lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    s->touched_len = 0;
}

static int receive(conn *c, const void *in, size_t len) {
    struct lws *wsi = c->wsi;
    if (lws_is_first_fragment(wsi)) {
        c->rx_len = 0;
        c->rx_binary = lws_frame_is_binary(wsi);
        c->rx_discard = 0;
        c->rx_first_us = monotonic_us();
        c->rx_first_iteration = c->t->loop_iteration;
    }
    if (c->rx_discard) return 0;
    if (c->rx_len + len > c->rx_limit) {
        c->t->metrics->errors[ERR_OVERSIZED]++;
        log_event(c->t->log, LOG_WARN, "message.oversized",
                  json_pack("{s:s,s:I,s:I}", "peer", peer_name(c), "id", (json_int_t)c->id,
                            "limit", (json_int_t)c->rx_limit));
        c->rx_discard = 1;
        outqueue_clear(&c->out);
        conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
        return 0;
    }
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len + 1) cap *= 2;
        uint8_t *b = realloc(c->rx, cap);
        if (!b) return -1;
        c->rx = b;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0) return 0;
    peer_kind p = c->ep->peer;
    c->t->metrics->bytes_in[p] += c->rx_len;
    c->t->metrics->messages_in[p]++;
    if (c->rx_first_iteration != c->t->loop_iteration) c->t->metrics->messages_split[p]++;
    c->rx[c->rx_len] = 0;
    if (c->user) c->ep->message(c->user, c->rx, c->rx_len, c->rx_binary, c->rx_first_us);
    transport_write_touched(c->t);
    c->rx_len = 0;
    /* Idle connections hold no receive buffer; a malloc per message is cheap beside that. */
    {
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    return 0;
}

/* A message of a read_whole endpoint (workers) whose first part was read but not its remainder
 * (the sender's write reached the socket in pieces) would wait for the next loop iteration: its
 * remainder is usually there by the end of this one, so it is read now, as lws's own poll callback
 * would read it. A worker link carries many sessions' audio: a TTS reply waiting an iteration is
 * the first_frame hop's tail. */
#define PARTIAL_READ_TRIES 4

static void finish_partial_reads(transport *s) {
    for (size_t i = 0; i < s->read_whole.cap; i++) {
        conn *c = s->read_whole.keys[i] ? s->read_whole.values[i] : NULL;
        if (!c || c->rx_len == 0 || c->closed || c->close_code) continue;
        uint64_t serial = c->serial;
        for (int tries = 0; tries < PARTIAL_READ_TRIES; tries++) {
            size_t had = c->rx_len;
            struct lws_pollfd pfd = {.fd = lws_get_socket_fd(c->wsi), .events = LWS_POLLIN, .revents = LWS_POLLIN};
            if (pfd.fd < 0) break;
            lws_service_fd(s->lws, &pfd);
            /* The service may have completed the message, read nothing more, or closed the link. */
            c = idmap_get(&s->read_whole, serial);
            if (!c || c->rx_len == 0 || c->rx_len == had || c->closed || c->close_code) break;
        }
    }
}

/* RFC 6455 §5.1: a WebSocket that sent an unmasked frame is failed (frame_guard.h). Called
 * before any message is handed on, and once per loop iteration for control frames. */
static void fail_unmasked(transport *s) {
    conn *c;
    while ((c = frame_guard_take_violation()) != NULL) {
        if (c->closed || c->close_code) continue;
        s->metrics->errors[ERR_BAD_FRAME]++;
        log_event(s->log, LOG_WARN, "frame.unmasked", json_pack("{s:s,s:I}", "peer", peer_name(c), "id", (json_int_t)c->id));
        c->rx_discard = 1;
        outqueue_clear(&c->out);
        conn_close(c, LWS_CLOSE_STATUS_PROTOCOL_ERR, "client frames must be masked");
    }
}

/* Whatever timers and connection events queued in this iteration is written before the loop
 * polls again (a message that is not gets its writable callback, as ever). One iteration ends
 * here: its work is the time since the last one ended, less the time spent waiting in poll. */
static void on_prepare(uv_prepare_t *h) {
    transport *s = h->data;
    fail_unmasked(s);
    finish_partial_reads(s);
    transport_write_touched(s);
    int64_t now = monotonic_us();
    uint64_t idle_ns = uv_metrics_idle_time(s->loop);
    if (s->loop_mark_us) {
        int64_t busy_us = now - s->loop_mark_us - (int64_t)((idle_ns - s->loop_idle_mark_ns) / 1000);
        histogram_observe(&s->metrics->loop_busy, (double)(busy_us > 0 ? busy_us : 0) / 1e6);
    }
    s->loop_mark_us = now;
    s->loop_idle_mark_ns = idle_ns;
    s->loop_iteration++;
}

static int http_completed(void *ctx, struct lws *wsi);

/* Takes an open WebSocket out of the transport's tables. */
static void forget(conn *c) {
    transport *s = c->t;
    if (!idmap_remove(&s->conns, c->serial)) return;
    idmap_remove(&s->read_whole, c->serial);
    s->open[c->ep->peer]--;
}

static const ws_endpoint *endpoint_of(transport *s, struct lws *wsi) {
    char uri[256];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) return NULL;
    for (int i = 0; i < s->endpoint_count; i++) {
        const ws_endpoint *ep = &s->endpoints[i];
        if (!strcmp(uri, ep->path) || (ep->alt_path && !strcmp(uri, ep->alt_path))) return ep;
    }
    return NULL;
}

/* Whether a WebSocket upgrade may proceed: 0 yes, else the HTTP status refusing it, with why. */
static int upgrade_status(transport *s, struct lws *wsi, const char **why) {
    const ws_endpoint *ep = endpoint_of(s, wsi);
    if (!ep) {
        *why = s->no_endpoint;
        return 404;
    }
    if (s->draining) {
        *why = "server is draining";
        return 503;
    }
    return ep->check(ep->ctx, wsi, why);
}

static int refuse_upgrade(transport *s, struct lws *wsi) {
    const char *why = NULL;
    int status = upgrade_status(s, wsi, &why);
    if (status == 0) return 0;
    s->metrics->errors[status == 401 ? ERR_UNAUTHORIZED : status == 503 ? ERR_CONNECTION_LIMIT : ERR_BAD_MESSAGE]++;
    log_event(s->log, LOG_WARN, "upgrade.refused", json_pack("{s:i,s:s}", "status", status, "why", why));
    return http_refuse_upgrade(wsi, status, why);
}

/* The WebSocket is established: the endpoint's module takes it, or it is closed. */
static int open_websocket(transport *s, struct lws *wsi) {
    const ws_endpoint *ep = endpoint_of(s, wsi);
    if (!ep || s->draining) return -1;
    conn *c = conn_new(s, wsi, ep->max_message_bytes, ep->send_queue_bytes);
    if (!c) return -1;
    c->ep = ep;
    c->serial = ++s->next_serial;
    idmap_put(&s->conns, c->serial, c);
    if (ep->read_whole) idmap_put(&s->read_whole, c->serial, c);
    s->open[ep->peer]++;
    c->user = ep->open(ep->ctx, c);
    if (!c->user) {
        forget(c);
        c->ep = NULL;   /* not a WebSocket of any module: WSI_DESTROY only frees it */
        return -1;
    }
    /* Only a WebSocket that is the whole connection: one carried in an HTTP/2 stream shares
     * its socket with other streams' framing. */
    if (lws_get_network_wsi(wsi) == wsi) {
        c->guard_fd = lws_get_socket_fd(wsi);
        frame_guard_watch(c->guard_fd, c);
    }
    return 0;
}

/* The connection is closed: its module is told once. */
static void closed(conn *c) {
    if (c->closed) return;
    c->closed = 1;
    if (!c->ep) return;
    forget(c);
    void *user = c->user;
    c->user = NULL;
    if (user) c->ep->closed(user);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    struct lws_context *ctx = lws_get_context(wsi);
    transport *s = ctx ? lws_context_user(ctx) : NULL;
    conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
        /* A connection was just accepted; lws has not made it a wsi yet. */
        const struct lws_filter_network_conn_args *f = user;
        if (!s || !f) return 0;
        admit_result r = admission_accept(&s->admission, (const struct sockaddr *)&f->cli_addr, monotonic_us());
        if (r == ADMIT_OK) return 0;
        s->metrics->errors[ERR_CONNECTION_LIMIT]++;
        return 1;
    }
    case LWS_CALLBACK_WSI_CREATE:
        if (s) admission_created(&s->admission, wsi, monotonic_us());
        break;
    case LWS_CALLBACK_HTTP:
        /* An HTTP/2 stream's request completes its connection's (the network wsi's) too. */
        admission_request(&s->admission, lws_get_network_wsi(wsi));
        if (!c) c = conn_new(s, wsi, 0, 0);
        if (!c) return -1;
        s->metrics->http_requests++;
        return http_on_request(&s->router, &c->http, wsi, (const char *)in);
    case LWS_CALLBACK_HTTP_BODY:
        return c ? http_on_body(&c->http, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return c ? http_on_body_done(&s->router, &c->http) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c ? http_on_writeable(&s->router, &c->http) : 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return http_completed(s, wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        admission_request(&s->admission, lws_get_network_wsi(wsi));
        return refuse_upgrade(s, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return open_websocket(s, wsi);
    case LWS_CALLBACK_RECEIVE:
        if (!c || !c->ep || c->closed) return -1;
        fail_unmasked(s);
        if (c->close_sent || c->close_code == LWS_CLOSE_STATUS_PROTOCOL_ERR) return 0;
        return receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c || !c->ep) return 0;
        return write_next(c);
    case LWS_CALLBACK_CLOSED:
        if (c) {
            frame_guard_forget(c->guard_fd, c);
            c->guard_fd = -1;
        }
        if (c) closed(c);
        break;
    case LWS_CALLBACK_WSI_DESTROY:
        if (s) {
            admission_destroyed(&s->admission, wsi);
            s->closed_since_trim++;
        }
        if (c) {
            closed(c);
            lws_set_opaque_user_data(wsi, NULL);
            conn_free(c);
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* lws reads at most one receive buffer per connection per loop iteration, so a message larger
 * than the buffer waits a whole iteration for each further part: at 500 talking sessions a TTS
 * reply of 14 KB took four iterations with the old 4 KiB buffer, the p99 of the first_frame hop.
 * 64 KiB takes a TTS chunk of over a second of 24 kHz audio in one read. lws 4.1 cannot size it
 * per connection kind (the buffer follows the protocol, and clients send no subprotocol); an idle
 * device costs little for it, since only the buffer's first bytes are ever touched. */
#define RX_BUFFER 65536

static const struct lws_protocols protocols[] = {
    {"voicecored", callback, 0, RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_to_ours(int level, const char *line) {
    (void)level;
    /* libwebsockets' own chatter goes to stderr; our JSON log stays machine-readable. */
    fputs(line, stderr);
}

void transport_gauges(transport *s, metrics_gauges *g) {
    g->draining = s->draining;
    g->pending_connections = (uint64_t)s->admission.pending;
    g->admission_refused = s->admission.refused;
    g->admission_evicted = s->admission.evicted;
    g->header_timeouts = s->admission.timed_out;
    g->memory_trims = s->memory_trims;
    for (size_t i = 0; i < s->conns.cap; i++) {
        conn *c = s->conns.keys[i] ? s->conns.values[i] : NULL;
        if (c) g->send_queue_bytes += c->out.bytes;
    }
}

static void close_all(transport *s, const char *reason) {
    for (size_t i = 0; i < s->conns.cap; i++)
        if (s->conns.keys[i]) conn_close(s->conns.values[i], LWS_CLOSE_STATUS_GOINGAWAY, reason);
}

/* A connection its endpoint drains first (ws_endpoint drain_pending) that still has something to send. */
static int drain_pending(conn *c) {
    return c->ep->drain_pending && (c->out.head || (c->user && c->ep->drain_pending(c->user)));
}

static int any_drain_pending(transport *s) {
    for (size_t i = 0; i < s->conns.cap; i++) {
        conn *c = s->conns.keys[i] ? s->conns.values[i] : NULL;
        if (c && drain_pending(c)) return 1;
    }
    return 0;
}

static void on_drain_tick(uv_timer_t *t) {
    transport *s = t->data;
    int64_t now = monotonic_us();
    if (any_drain_pending(s) && now < s->drain_deadline_us) return;
    close_all(s, "server shutting down");
    if (s->conns.count == 0) {
        uv_timer_stop(t);
        log_event(s->log, LOG_INFO, "drain.done", NULL);
        uv_stop(s->loop);
    } else if (now > s->drain_deadline_us + 2000000) {
        uv_timer_stop(t);
        log_event(s->log, LOG_WARN, "drain.forced", json_pack("{s:I,s:I}", "devices", (json_int_t)s->open[PEER_DEVICE],
                                                               "workers", (json_int_t)s->open[PEER_WORKER]));
        uv_stop(s->loop);
    }
}

void transport_begin_drain(transport *s, const char *reason) {
    if (s->draining) return;
    s->draining = 1;
    s->drain_deadline_us = monotonic_us() + (int64_t)s->cfg->drain_timeout_ms * 1000;
    log_event(s->log, LOG_INFO, "drain.start", json_pack("{s:s,s:I,s:I}", "reason", reason, "devices",
                                                          (json_int_t)s->open[PEER_DEVICE], "workers", (json_int_t)s->open[PEER_WORKER]));
    /* Connections with nothing to send are told at once; the drain tick closes the rest when
     * theirs is out or the drain deadline passes. */
    for (size_t i = 0; i < s->conns.cap; i++) {
        conn *c = s->conns.keys[i] ? s->conns.values[i] : NULL;
        if (c && c->ep->drain_pending && !drain_pending(c)) conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
    uv_timer_start(&s->drain_timer, on_drain_tick, 0, 20);
}

/* An HTTP response is complete: -1 closes the connection, 0 keeps it for its next request. */
static int http_completed(void *ctx, struct lws *wsi) {
    transport *s = ctx;
    if (lws_http_transaction_completed(wsi)) return -1;
    /* Kept alive: it waits for its next request, under the same header timeout as a new one. */
    admission_idle(&s->admission, wsi, monotonic_us());
    return 0;
}

static long rss_kb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int n = fscanf(f, "%ld %ld", &pages, &resident);
    fclose(f);
    return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

#define HOUSEKEEPING_MS 200
/* After this many connections closed, freed heap is handed back to the OS: glibc keeps what a
 * burst of connections freed in the middle of the heap (only the top is returned by itself). */
#define TRIM_AFTER_CLOSES 64
#define TRIM_AT_MOST_EVERY_US 10000000

static void on_housekeeping(uv_timer_t *t) {
    transport *s = t->data;
    int64_t now = monotonic_us();
    admission_expire(&s->admission, now);
    admission *a = &s->admission;
    uint64_t acted = a->refused + a->evicted + a->timed_out;
    if (++s->housekeeping_ticks % 5 != 0) return;
    /* Once a second: what admission closed, and whether a burst of connections has ended. */
    if (acted != s->admission_logged) {
        s->admission_logged = acted;
        log_event(s->log, LOG_WARN, "admission.closed",
                  json_pack("{s:I,s:I,s:I,s:I}", "refused", (json_int_t)a->refused, "evicted", (json_int_t)a->evicted,
                            "header_timeout", (json_int_t)a->timed_out, "pending", (json_int_t)a->pending));
    }
    int burst_over = s->closed_since_trim == s->closed_at_last_tick;
    s->closed_at_last_tick = s->closed_since_trim;
    if (s->closed_since_trim >= TRIM_AFTER_CLOSES && (burst_over || now - s->last_trim_us >= TRIM_AT_MOST_EVERY_US)) {
        long before = rss_kb();
        malloc_trim(0);
        long after = rss_kb();
        s->memory_trims++;
        log_event(s->log, LOG_INFO, "memory.trimmed",
                  json_pack("{s:I,s:I,s:I}", "closed", (json_int_t)s->closed_since_trim, "rss_kb_before", (json_int_t)before,
                            "rss_kb_after", (json_int_t)after));
        s->closed_since_trim = s->closed_at_last_tick = 0;
        s->last_trim_us = now;
    }
}

static void on_signal(uv_signal_t *handle, int signum) {
    transport *s = handle->data;
    transport_begin_drain(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

void transport_init(transport *s, uv_loop_t *loop, const config *cfg, logger *log, metrics *m) {
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->cfg = cfg;
    s->log = log;
    s->metrics = m;
    /* The handles exist before anything can fail, so transport_destroy always closes valid ones. */
    uv_signal_init(loop, &s->sigterm);
    uv_signal_init(loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    /* Watched from the start: the hub opens its journal before the port listens, and a SIGTERM in
     * between (a supervisor stopping a daemon it just restarted) must still drain and close the
     * journal. libuv delivers a signal caught here once the loop runs, after transport_listen. */
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_timer_init(loop, &s->drain_timer);
    s->drain_timer.data = s;
    uv_timer_init(loop, &s->housekeeping);
    s->housekeeping.data = s;
    admission_init(&s->admission, (admission_limits){
        .header_timeout_us = (int64_t)cfg->header_timeout_ms * 1000,
        .max_pending = cfg->max_pending_connections,
        .max_pending_per_address = cfg->max_pending_per_address,
        .max_per_address = cfg->max_connections_per_address,
    });
    s->last_trim_us = monotonic_us();
    uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    uv_prepare_init(loop, &s->write_touched);
    s->write_touched.data = s;
    uv_prepare_start(&s->write_touched, on_prepare);
    s->router.completed = http_completed;
    s->router.completed_ctx = s;
    idmap_init(&s->conns);
    idmap_init(&s->read_whole);
}

int transport_add_route(transport *t, const http_route *route) { return http_router_add(&t->router, route); }

int transport_add_endpoint(transport *t, const ws_endpoint *ep) {
    if (t->endpoint_count >= TRANSPORT_MAX_ENDPOINTS) return -1;
    t->endpoints[t->endpoint_count++] = *ep;
    /* The answer to an upgrade on no endpoint names them all. */
    size_t n = 0;
    n += (size_t)snprintf(t->no_endpoint + n, sizeof t->no_endpoint - n, "no WebSocket endpoint here (");
    for (int i = 0; i < t->endpoint_count && n < sizeof t->no_endpoint; i++)
        n += (size_t)snprintf(t->no_endpoint + n, sizeof t->no_endpoint - n, "%s%s: %s", i ? ", " : "", t->endpoints[i].label,
                              t->endpoints[i].path);
    if (n < sizeof t->no_endpoint) snprintf(t->no_endpoint + n, sizeof t->no_endpoint - n, ")");
    return 0;
}

int transport_listen(transport *s) {
    const config *cfg = s->cfg;
    uv_loop_t *loop = s->loop;
    lws_set_log_level(getenv("VOICECORED_LWS_LOG") ? atoi(getenv("VOICECORED_LWS_LOG")) : LLL_ERR, lws_log_to_ours);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *foreign_loops[1] = {loop};
    info.options = LWS_SERVER_OPTION_LIBUV |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.foreign_loops = foreign_loops;
    info.port = cfg->port;
    info.iface = cfg->host;
    info.protocols = protocols;
    info.user = s;
    info.fd_limit_per_thread = (unsigned int)(cfg->max_devices + cfg->max_workers + 256);
    /* Every connection holds a header table from its accept until its request is parsed; with
     * the pool full, new connections wait for one. Admission bounds the connections in that
     * phase (admission.h), so the pool is sized to never be what a request waits for. */
    info.max_http_header_pool = 0;
    info.max_http_header_pool2 = (unsigned int)cfg->max_pending_connections + 256;
    info.timeout_secs_ah_idle = (unsigned int)(cfg->header_timeout_ms / 1000 + 2);
    /* WebSocket ping: lws pings a connection that has not confirmed it is alive (a pong) for
     * ping_interval_s, and hangs up on one still silent ping_timeout_s later. */
    memset(&s->ping_policy, 0, sizeof s->ping_policy);
    if (cfg->ping_interval_s > 0) {
        s->ping_policy.secs_since_valid_ping = (uint16_t)cfg->ping_interval_s;
        s->ping_policy.secs_since_valid_hangup = (uint16_t)(cfg->ping_interval_s + cfg->ping_timeout_s);
    }
    info.retry_and_idle_policy = &s->ping_policy;
    /* The per-thread read buffer bounds every read too; one, shared by all connections. */
    info.pt_serv_buf_size = RX_BUFFER + LWS_PRE;
    info.timeout_secs = 20;
    info.vhost_name = "voicecored";
    info.pcontext = &s->lws;   /* lws writes NULL here once destruction on our loop is complete */
    if (*cfg->tls_cert) {
        /* lws would log the failure and serve nothing; the operator gets a plain reason instead. */
        const char *files[2] = {cfg->tls_cert, cfg->tls_key};
        for (int i = 0; i < 2; i++)
            if (access(files[i], R_OK) != 0) {
                log_event(s->log, LOG_ERROR, "tls.unreadable", json_pack("{s:s,s:s}", "file", files[i], "error", strerror(errno)));
                return -1;
            }
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    s->lws = lws_create_context(&info);
    if (!s->lws) {
        log_event(s->log, LOG_ERROR, "listen.failed", json_pack("{s:s,s:i}", "host", cfg->host, "port", cfg->port));
        return -1;
    }
    s->vhost = lws_get_vhost_by_name(s->lws, "voicecored");
    s->port = s->vhost ? lws_get_vhost_listen_port(s->vhost) : -1;
    if (s->port <= 0) {
        /* A context without a listening vhost (a bad certificate, a port in use) serves nothing. */
        log_event(s->log, LOG_ERROR, "listen.failed",
                  json_pack("{s:s,s:i,s:b}", "host", cfg->host, "port", cfg->port, "tls", *cfg->tls_cert != 0));
        return -1;
    }

    uv_timer_start(&s->housekeeping, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);

    log_event(s->log, LOG_INFO, "listening",
              json_pack("{s:s,s:i,s:b,s:s}", "host", cfg->host, "port", s->port, "tls", *cfg->tls_cert != 0,
                        "web_root", cfg->web_root));
    return 0;
}

void transport_destroy(transport *s) {
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    uv_timer_stop(&s->drain_timer);
    uv_timer_stop(&s->housekeeping);
    uv_close((uv_handle_t *)&s->housekeeping, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_prepare_stop(&s->write_touched);
    uv_close((uv_handle_t *)&s->write_touched, NULL);
    if (s->lws) lws_context_destroy(s->lws);
    idmap_free(&s->conns);
    idmap_free(&s->read_whole);
    admission_free(&s->admission);
}
