/* One XiaoZhi device on /xiaozhi/v1/: text frames are handed to the hub as they arrived (the
 * Coordinator parses and validates them, decides the protocol, the hello and its timeout included,
 * and answers what it rejects); binary frames are unwrapped per protocol version and decoded to
 * 16 kHz PCM once the core has answered the hello; downlink PCM is encoded and paced out with the
 * text frames the core made for its in-band sentence_start and stop markers. */
#include "device_session.h"
#include "frame_header.h"
#include "http.h"
#include "http_request.h"
#include "hub_latency.h"
#include "monotonic.h"
#include "opus_codec.h"
#include "playout.h"
#include "uplink_budget.h"
#include <stdlib.h>
#include <string.h>

#define BAD_OPUS_REPORTED 10

typedef struct device_session {
    devices *owner;
    conn *c;
    uint64_t id;                 /* the session id, the core's too ("s<id>" in logs) */
    int protocol_version;
    char device_id[65];
    char client_id[65];
    int authenticated;
    int hello_seen;
    /* Codecs are created at first use: an idle device costs no Opus state. */
    int decoder_ready, playout_ready;
    uplink_decoder decoder;
    playout playout;
    uv_timer_t *pace_timer;      /* malloc'd: outlives the session until uv_close completes */
    uint64_t bad_opus;
    uint64_t uplink_dropped;
    int frame_in_flight;         /* a frame waits in the send queue: the next is encoded once it is written */
    int paused;                  /* device_pause: no frame goes out until it is resumed or flushed */
    int budget_ready;
    uplink_budget budget;
    hub_turn_trace trace;
} device_session;

static void session_name(uint64_t id, char *out, size_t len) { snprintf(out, len, "s%llu", (unsigned long long)id); }

/* What a device's upgrade request says about it, validated. */
typedef struct device_request {
    int protocol_version;
    char device_id[65];
    char client_id[65];
    int authenticated;           /* the device presented a configured token */
    /* The token it presented, when it is a configured one (or any, in DEV MODE): the core binds
     * devices to agents by token (docs/agents.md); never logged. "" = none. */
    char token[129];
    int status;                  /* 0: admitted; else the HTTP status refusing it */
    const char *why;
} device_request;

static void device_request_read(devices *ds, struct lws *wsi, device_request *r) {
    memset(r, 0, sizeof *r);
    char token[512];
    int have_token = http_presented_token(wsi, token, sizeof token) > 0;
    if (ds->sessions.count >= (size_t)ds->cfg->max_devices) {
        r->status = 503;
        r->why = "device connection limit reached";
        return;
    }
    for (int i = 0; have_token && i < ds->cfg->device_token_count; i++)
        if (tokens_equal(token, ds->cfg->device_token_list[i])) r->authenticated = 1;
    if (ds->cfg->device_token_count > 0 && !r->authenticated) {
        r->status = 401;
        r->why = "a valid device token is required (Authorization: Bearer <token>)";
        return;
    }
    size_t token_len = have_token ? strlen(token) : 0;
    if (token_len && token_len < sizeof r->token) memcpy(r->token, token, token_len + 1);
    static const char *const version_args[] = {"protocol_version=", "protocol-version=", "version=", NULL};
    static const char *const device_args[] = {"device_id=", "device-id=", NULL};
    static const char *const client_args[] = {"client_id=", "client-id=", NULL};
    char value[128];
    int n = http_field(wsi, "protocol-version:", version_args, value, sizeof value);
    r->protocol_version = 1;
    if (n >= 0) {
        r->protocol_version = protocol_version(value, (size_t)n);
        if (r->protocol_version < 0) {
            r->status = 400;
            r->why = "Protocol-Version must be 1, 2 or 3";
            return;
        }
    }
    n = http_field(wsi, "device-id:", device_args, r->device_id, sizeof r->device_id);
    if (n == -2 || (n >= 0 && !valid_identifier(r->device_id, (size_t)n))) {
        r->status = 400;
        r->why = "Device-Id must be 1-64 characters of A-Z a-z 0-9 : . _ -";
        return;
    }
    n = http_field(wsi, "client-id:", client_args, r->client_id, sizeof r->client_id);
    if (n == -2 || (n >= 0 && !valid_identifier(r->client_id, (size_t)n))) {
        r->status = 400;
        r->why = "Client-Id must be 1-64 characters of A-Z a-z 0-9 : . _ -";
        return;
    }
}

static int device_check(void *ctx, struct lws *wsi, const char **why) {
    device_request r;
    device_request_read(ctx, wsi, &r);
    *why = r.why;
    return r.status;
}

/* Hands an event to the hub (which counts and logs a rejection; the core answers the device). */
static int deliver(device_session *d, const event_origin *origin, vc_event e) {
    e.session = d->id;
    return event_sink_deliver(&d->owner->sink, origin, &e);
}

static void pace(device_session *d);

static void on_pace_timer(uv_timer_t *t) {
    device_session *d = t->data;
    if (!d) return;
    pace(d);
    transport_write_touched(d->owner->t);
}

static void free_timer(uv_handle_t *h) { free(h); }

static void *device_open(void *ctx, conn *c) {
    devices *ds = ctx;
    device_request r;
    device_request_read(ds, c->wsi, &r);
    if (r.status != 0) return NULL;
    device_session *d = calloc(1, sizeof *d);
    uv_timer_t *timer = malloc(sizeof *timer);
    if (!d || !timer) {
        free(timer);
        free(d);
        return NULL;
    }
    d->owner = ds;
    d->c = c;
    d->protocol_version = r.protocol_version;
    d->authenticated = r.authenticated;
    memcpy(d->device_id, r.device_id, sizeof d->device_id);
    memcpy(d->client_id, r.client_id, sizeof d->client_id);
    uv_timer_init(ds->t->loop, timer);
    timer->data = d;
    d->pace_timer = timer;
    d->id = c->id = ds->next_id++;
    idmap_put(&ds->sessions, d->id, d);
    ds->metrics->connections_total[PEER_DEVICE]++;
    ds->metrics->connected[PEER_DEVICE]++;
    char name[32];
    session_name(d->id, name, sizeof name);
    log_event(ds->log, LOG_INFO, "device.connected",
              json_pack("{s:s,s:s,s:s,s:i,s:b}", "session", name, "device_id", d->device_id, "client_id", d->client_id,
                        "protocol_version", d->protocol_version, "authenticated", d->authenticated));
    event_origin origin = {monotonic_us(), 0};
    deliver(d, &origin,
            (vc_event){.kind = VC_EVENT_DEVICE_CONNECTED, .protocol_version = d->protocol_version,
                       .flags = d->authenticated ? VC_EVENT_AUTHENTICATED : 0u, .device_id = d->device_id,
                       .device_id_len = strlen(d->device_id), .client_id = d->client_id, .client_id_len = strlen(d->client_id),
                       .token = r.token, .token_len = strlen(r.token)});   /* for the core's token bindings of agents */
    return d;
}

static void text_in(device_session *d, const uint8_t *data, size_t len, const event_origin *origin) {
    deliver(d, origin, (vc_event){.kind = VC_EVENT_DEVICE_MESSAGE, .body = (const char *)data, .body_len = len});
}

static void audio_in(device_session *d, const uint8_t *data, size_t len, const event_origin *origin) {
    devices *ds = d->owner;
    conn *c = d->c;
    device_frame f;
    const char *error = NULL;
    if (device_frame_parse(d->protocol_version, data, len, &f, &error) != 0) {
        ds->metrics->errors[ERR_BAD_FRAME]++;
        conn_send_error(c, error);
        return;
    }
    if (f.type != DEVICE_FRAME_TYPE_OPUS) {
        ds->metrics->errors[ERR_BAD_FRAME]++;
        conn_send_error(c, "binary frames must carry Opus (type 0)");
        return;
    }
    if (!d->hello_seen) {
        ds->metrics->errors[ERR_BAD_MESSAGE]++;
        conn_send_error(c, "audio before hello: send hello first");
        return;
    }
    int samples = opus_packet_get_nb_samples(f.payload, (opus_int32)f.payload_len, UPLINK_SAMPLE_RATE);
    if (samples > 0) {
        int64_t now = monotonic_us();
        if (!d->budget_ready) {
            uplink_budget_init(&d->budget, (int64_t)ds->cfg->uplink_burst_ms * 1000, ds->cfg->uplink_rate_percent, now);
            d->budget_ready = 1;
        }
        if (!uplink_budget_take(&d->budget, (int64_t)samples * 1000000 / UPLINK_SAMPLE_RATE, now)) {
            ds->metrics->errors[ERR_UPLINK_FLOOD]++;
            if (d->uplink_dropped < BAD_OPUS_REPORTED || d->uplink_dropped % 100 == 0)
                conn_send_error(c, "uplink audio arrives faster than real time: frame dropped");
            d->uplink_dropped++;
            return;
        }
    }
    if (!d->decoder_ready) {
        if (uplink_decoder_init(&d->decoder) != 0) {
            conn_close(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            return;
        }
        d->decoder_ready = 1;
    }
    int16_t pcm[UPLINK_MAX_SAMPLES];
    int n = uplink_decoder_decode(&d->decoder, f.payload, f.payload_len, pcm);
    if (n < 0) {
        ds->metrics->errors[ERR_BAD_OPUS]++;
        /* Answer the first few and then every hundredth, so garbage cannot amplify traffic. */
        if (d->bad_opus < BAD_OPUS_REPORTED || d->bad_opus % 100 == 0) {
            char message[128];
            snprintf(message, sizeof message, "undecodable Opus frame (%s)", opus_strerror(n));
            conn_send_error(c, message);
        }
        d->bad_opus++;
        return;
    }
    ds->metrics->opus_decoded++;
    deliver(d, origin, (vc_event){.kind = VC_EVENT_DEVICE_AUDIO, .data = pcm, .data_len = (size_t)n * sizeof(int16_t)});
}

static void device_message_in(void *user, const uint8_t *data, size_t len, int binary, int64_t read_us) {
    device_session *d = user;
    event_origin origin = {read_us, d->id};
    if (binary) audio_in(d, data, len, &origin);
    else text_in(d, data, len, &origin);
}

static void device_closed(void *user) {
    device_session *d = user;
    devices *ds = d->owner;
    conn *c = d->c;
    idmap_remove(&ds->sessions, d->id);
    ds->metrics->connected[PEER_DEVICE]--;
    char name[32];
    session_name(d->id, name, sizeof name);
    const char *reason = c->close_code ? c->close_reason : "connection closed";
    log_event(ds->log, LOG_INFO, "device.disconnected", json_pack("{s:s,s:s}", "session", name, "reason", reason));
    event_origin origin = {monotonic_us(), 0};
    deliver(d, &origin, (vc_event){.kind = VC_EVENT_DEVICE_DISCONNECTED, .body = reason, .body_len = strlen(reason)});
    uv_timer_stop(d->pace_timer);
    d->pace_timer->data = NULL;
    uv_close((uv_handle_t *)d->pace_timer, free_timer);
    if (d->playout_ready) playout_free(&d->playout);
    if (d->decoder_ready) uplink_decoder_free(&d->decoder);
    free(d);
}

static int ensure_playout(devices *ds, device_session *d) {
    if (d->playout_ready) return 0;
    size_t max_frames = (size_t)ds->cfg->max_queued_audio_ms / (size_t)ds->cfg->downlink_frame_ms;
    if (playout_init(&d->playout, ds->cfg->downlink_sample_rate, ds->cfg->downlink_frame_ms, ds->cfg->prebuffer_frames,
                     max_frames, ds->cfg->opus_complexity, ds->cfg->opus_bitrate) != 0)
        return -1;
    d->playout_ready = 1;
    return 0;
}

static device_session *find(devices *ds, uint64_t session) {
    device_session *d = idmap_get(&ds->sessions, session);
    if (!d || d->c->closed) {
        ds->metrics->errors[ERR_UNKNOWN_PEER]++;
        return NULL;
    }
    return d;
}

void device_send_text(devices *ds, uint64_t session, const char *text, size_t len, int hello, int tts_start, int64_t origin_us) {
    device_session *d = find(ds, session);
    if (!d || !text) return;
    /* The core answered the hello (announcing the codec settings hub_new handed it): the
     * session may send audio. */
    if (hello) d->hello_seen = 1;
    conn_send(d->c, 0, NULL, 0, text, len);
    if (tts_start) d->trace.first_frame_origin_us = origin_us;
}

static void pace(device_session *d) {
    conn *c = d->c;
    if (!d->playout_ready) return;
    for (;;) {
        /* One frame in the send queue at a time: the next is encoded after this one is written,
         * so a reply's first frame leaves after one encode and an abort finds little to drop. */
        if (d->frame_in_flight || d->paused) return;
        int64_t wait_us = 0;
        uint64_t encoded = d->playout.frames_encoded;
        playout_item *item = playout_next(&d->playout, monotonic_us(), &wait_us);
        d->owner->metrics->opus_encoded += d->playout.frames_encoded - encoded;   /* not a rewound frame again */
        if (!item) {
            if (wait_us > 0) uv_timer_start(d->pace_timer, on_pace_timer, (uint64_t)((wait_us + 999) / 1000), 0);
            return;
        }
        if (item->kind == PLAYOUT_FRAME) {
            uint8_t header[DEVICE_FRAME_MAX_HEADER];
            int hlen = device_frame_header(d->protocol_version, item->len, 0, header);
            if (hlen >= 0 && conn_send(c, 1, header, (size_t)hlen, item->data, item->len) == 0) {
                d->frame_in_flight = 1;
                if (d->trace.first_frame_origin_us) {
                    conn_trace_last(c, HUB_HOP_FIRST_FRAME, d->id, item->turn, d->trace.first_frame_origin_us);
                    d->trace.first_frame_origin_us = 0;
                }
            }
        } else {
            /* A marker: the text frame the core made for this point of the queue (sentence_start,
             * or the stop that ends a turn's audio, after which the playback is reported done). */
            if (item->len) conn_send(c, 0, NULL, 0, item->data, item->len);
            if (item->kind == PLAYOUT_END) {
                int64_t turn = item->turn;
                free(item);
                item = NULL;
                /* The hub is told; an event it cannot take now (it is carrying out effects) it runs
                 * after them, so this session is still open when this returns. */
                event_origin origin = {monotonic_us(), d->id};
                deliver(d, &origin, (vc_event){.kind = VC_EVENT_DEVICE_PLAYBACK_DONE, .turn = (uint64_t)turn});
                if (c->closed) return;
            }
        }
        free(item);
        if (c->close_code) return;
    }
}

static void device_frame_written(void *user) {
    device_session *d = user;
    d->frame_in_flight = 0;
    if (!d->c->closed && !d->c->close_code) pace(d);
}

void device_queue_audio(devices *ds, uint64_t session, int64_t turn, const int16_t *pcm, size_t samples, int rate,
                        const char *frame) {
    device_session *d = find(ds, session);
    if (!d) return;
    if (ensure_playout(ds, d) != 0) return;
    if (playout_push(&d->playout, turn, pcm, samples, rate > 0 ? rate : 24000, frame) != 0) {
        ds->metrics->errors[ERR_PLAYOUT_OVERFLOW]++;
        log_event(ds->log, LOG_WARN, "playout.refused",
                  json_pack("{s:I,s:I,s:I}", "session", (json_int_t)session, "turn", (json_int_t)turn, "queued_frames",
                            (json_int_t)d->playout.frames));
    }
    pace(d);
}

void device_audio_end(devices *ds, uint64_t session, int64_t turn, const char *frame) {
    device_session *d = find(ds, session);
    if (!d) return;
    if (ensure_playout(ds, d) != 0) return;
    playout_end(&d->playout, turn, frame);
    pace(d);
}

void device_flush(devices *ds, uint64_t session) {
    device_session *d = find(ds, session);
    if (!d) return;
    if (d->playout_ready) ds->metrics->frames_dropped_on_flush += playout_flush(&d->playout);
    uv_timer_stop(d->pace_timer);
    d->trace.first_frame_origin_us = 0;
    conn_drop_binary(d->c);
    d->frame_in_flight = 0;
    d->paused = 0;
}

void device_pause(devices *ds, uint64_t session, int paused, int device_drops) {
    device_session *d = find(ds, session);
    if (!d) return;
    d->paused = paused;
    if (paused) uv_timer_stop(d->pace_timer);
    else pace(d);
    /* Every frame handed to the connection reaches the device before the text frames that tell it
     * to drop what it holds: those it may not have played go out again on resume. */
    if (paused && device_drops && d->playout_ready) {
        size_t n = playout_rewind(&d->playout, monotonic_us());
        ds->metrics->frames_rewound += n;
        char name[32];
        session_name(d->id, name, sizeof name);
        log_event(ds->log, LOG_INFO, "playout.rewound", json_pack("{s:s,s:I}", "session", name, "frames", (json_int_t)n));
    }
}

void device_close_session(devices *ds, uint64_t session, int code, const char *reason) {
    device_session *d = find(ds, session);
    if (!d) return;
    /* The core decides the close code (a session without a hello in time: 1008); the metric
     * keeps its name, voicecored_errors_total{kind="hello_timeout"}. */
    if (!strcmp(reason, "hello-timeout")) ds->metrics->errors[ERR_HELLO_TIMEOUT]++;
    conn_close(d->c, code > 0 ? code : LWS_CLOSE_STATUS_NORMAL, reason);
}

/* Draining: a session is closed once its audio has played out. */
static int device_drain_pending(void *user) {
    device_session *d = user;
    return d->playout_ready && playout_pending(&d->playout);
}

/* A traced message was written (on a device's or a worker's connection): the hop is done, and the
 * session it belongs to keeps the turn's hops in its trace. */
static void traced_written(void *ctx, const out_message *m, int64_t now_us) {
    devices *ds = ctx;
    device_session *d = m->session ? idmap_get(&ds->sessions, m->session) : NULL;
    hub_hop_written(ds->metrics, ds->log, d ? &d->trace : NULL, (hub_hop)m->hop, m->session, m->turn, m->origin_us, now_us);
}

void devices_init(devices *ds, transport *t, const config *cfg, logger *log, metrics *m) {
    memset(ds, 0, sizeof *ds);
    ds->t = t;
    ds->cfg = cfg;
    ds->log = log;
    ds->metrics = m;
    idmap_init(&ds->sessions);
    ds->next_id = 1;
    transport_add_endpoint(t, &(ws_endpoint){
        .label = "devices",
        .path = "/xiaozhi/v1/",
        .alt_path = "/xiaozhi/v1",
        .peer = PEER_DEVICE,
        .max_message_bytes = (size_t)cfg->device_max_message_bytes,
        .send_queue_bytes = (size_t)cfg->send_queue_bytes,
        .check = device_check,
        .open = device_open,
        .message = device_message_in,
        .closed = device_closed,
        .binary_written = device_frame_written,
        .drain_pending = device_drain_pending,
        .ctx = ds,
    });
    transport_on_traced_write(t, traced_written, ds);
    if (cfg->device_token_count == 0)
        log_event(log, LOG_WARN, "dev_mode",
                  json_pack("{s:s}", "message", "DEV MODE: no device_tokens configured, any device may connect without a token"));
}

void devices_set_sink(devices *ds, event_sink sink) { ds->sink = sink; }

void devices_free(devices *ds) { idmap_free(&ds->sessions); }

size_t devices_count(const devices *ds) { return ds->sessions.count; }

void devices_gauges(const devices *ds, metrics_gauges *g) {
    for (size_t i = 0; i < ds->sessions.cap; i++) {
        device_session *d = ds->sessions.keys[i] ? ds->sessions.values[i] : NULL;
        if (d && d->playout_ready) g->playout_frames_queued += d->playout.frames;
    }
}
