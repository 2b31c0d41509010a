/* One XiaoZhi device on /xiaozhi/v1/: text frames are handed to the Coordinator as they arrived,
 * which parses and validates them, decides the protocol (the hello and its timeout included) and
 * answers what it rejects; binary frames are unwrapped per protocol version and decoded to 16 kHz
 * PCM once the core has answered the hello; downlink PCM is encoded and paced out with the text
 * frames the core made for its in-band sentence_start and stop markers. */
#include "frame_header.h"
#include "hub.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>

#define BAD_OPUS_REPORTED 10

static void session_name(uint64_t id, char *out, size_t len) { snprintf(out, len, "s%llu", (unsigned long long)id); }

static void pace(conn *c);

static void on_pace_timer(uv_timer_t *t) {
    conn *c = t->data;
    if (!c) return;
    c->srv->event_origin_us = monotonic_us();
    c->srv->event_session = c->id;
    pace(c);
    server_write_touched(c->srv);
}

static void free_timer(uv_handle_t *h) { free(h); }

conn *device_open(server *s, struct lws *wsi) {
    upgrade_request r;
    upgrade_request_read(s, wsi, &r);
    if (r.status != 0 || r.kind != CONN_DEVICE) return NULL;
    conn *c = conn_new(s, wsi, CONN_DEVICE, (size_t)s->cfg->device_max_message_bytes, (size_t)s->cfg->send_queue_bytes);
    if (!c) return NULL;
    device_state *d = calloc(1, sizeof *d);
    uv_timer_t *timer = malloc(sizeof *timer);
    if (!d || !timer) {
        free(timer);
        free(d);
        c->kind = CONN_HTTP;   /* not a session yet: WSI_DESTROY only frees it */
        return NULL;
    }
    c->device = d;
    d->protocol_version = r.protocol_version;
    d->authenticated = r.authenticated;
    memcpy(d->device_id, r.device_id, sizeof d->device_id);
    memcpy(d->client_id, r.client_id, sizeof d->client_id);
    uv_timer_init(s->loop, timer);
    timer->data = c;
    d->pace_timer = timer;
    c->id = s->next_device_id++;
    idmap_put(&s->devices, c->id, c);
    s->metrics.connections_total[PEER_DEVICE]++;
    s->metrics.connected[PEER_DEVICE]++;
    char name[32];
    session_name(c->id, name, sizeof name);
    log_event(&s->log, LOG_INFO, "device.connected",
              json_pack("{s:s,s:s,s:s,s:i,s:b}", "session", name, "device_id", d->device_id, "client_id", d->client_id,
                        "protocol_version", d->protocol_version, "authenticated", d->authenticated));
    hub_device_connected(s->hub, c->id, d->device_id, d->client_id, d->protocol_version, d->authenticated);
    return c;
}

static void text_in(conn *c, const uint8_t *data, size_t len) { hub_device_message(c->srv->hub, c->id, data, len); }

static void audio_in(conn *c, const uint8_t *data, size_t len) {
    server *s = c->srv;
    device_state *d = c->device;
    device_frame f;
    const char *error = NULL;
    if (device_frame_parse(d->protocol_version, data, len, &f, &error) != 0) {
        s->metrics.errors[ERR_BAD_FRAME]++;
        conn_send_error(c, error);
        return;
    }
    if (f.type != DEVICE_FRAME_TYPE_OPUS) {
        s->metrics.errors[ERR_BAD_FRAME]++;
        conn_send_error(c, "binary frames must carry Opus (type 0)");
        return;
    }
    if (!d->hello_seen) {
        s->metrics.errors[ERR_BAD_MESSAGE]++;
        conn_send_error(c, "audio before hello: send hello first");
        return;
    }
    int samples = opus_packet_get_nb_samples(f.payload, (opus_int32)f.payload_len, UPLINK_SAMPLE_RATE);
    if (samples > 0) {
        int64_t now = monotonic_us();
        if (!d->budget_ready) {
            uplink_budget_init(&d->budget, (int64_t)s->cfg->uplink_burst_ms * 1000, s->cfg->uplink_rate_percent, now);
            d->budget_ready = 1;
        }
        if (!uplink_budget_take(&d->budget, (int64_t)samples * 1000000 / UPLINK_SAMPLE_RATE, now)) {
            s->metrics.errors[ERR_UPLINK_FLOOD]++;
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
        s->metrics.errors[ERR_BAD_OPUS]++;
        /* Answer the first few and then every hundredth, so garbage cannot amplify traffic. */
        if (d->bad_opus < BAD_OPUS_REPORTED || d->bad_opus % 100 == 0) {
            char message[128];
            snprintf(message, sizeof message, "undecodable Opus frame (%s)", opus_strerror(n));
            conn_send_error(c, message);
        }
        d->bad_opus++;
        return;
    }
    s->metrics.opus_decoded++;
    hub_device_audio(s->hub, c->id, pcm, (size_t)n);
}

void device_message_in(conn *c, const uint8_t *data, size_t len, int binary) {
    if (binary) audio_in(c, data, len);
    else text_in(c, data, len);
}

void device_closed(conn *c) {
    server *s = c->srv;
    idmap_remove(&s->devices, c->id);
    s->metrics.connected[PEER_DEVICE]--;
    char name[32];
    session_name(c->id, name, sizeof name);
    const char *reason = c->close_code ? c->close_reason : "connection closed";
    log_event(&s->log, LOG_INFO, "device.disconnected", json_pack("{s:s,s:s}", "session", name, "reason", reason));
    hub_device_disconnected(s->hub, c->id, reason);
    device_state *d = c->device;
    if (d) {
        uv_timer_stop(d->pace_timer);
        d->pace_timer->data = NULL;
        uv_close((uv_handle_t *)d->pace_timer, free_timer);
        if (d->playout_ready) playout_free(&d->playout);
        if (d->decoder_ready) uplink_decoder_free(&d->decoder);
        free(d);
        c->device = NULL;
    }
}

static int ensure_playout(server *s, device_state *d) {
    if (d->playout_ready) return 0;
    size_t max_frames = (size_t)s->cfg->max_queued_audio_ms / (size_t)s->cfg->downlink_frame_ms;
    if (playout_init(&d->playout, s->cfg->downlink_sample_rate, s->cfg->downlink_frame_ms, s->cfg->prebuffer_frames,
                     max_frames, s->cfg->opus_complexity, s->cfg->opus_bitrate) != 0)
        return -1;
    d->playout_ready = 1;
    return 0;
}

static conn *find(server *s, uint64_t session) {
    conn *c = idmap_get(&s->devices, session);
    if (!c || c->closed || !c->device) {
        s->metrics.errors[ERR_UNKNOWN_PEER]++;
        return NULL;
    }
    return c;
}

void device_send_text(server *s, uint64_t session, const char *text, size_t len, int hello, int tts_start) {
    conn *c = find(s, session);
    if (!c || !text) return;
    /* The core answered the hello (announcing the codec settings hub_new handed it): the
     * session may send audio. */
    if (hello) c->device->hello_seen = 1;
    conn_send(c, 0, NULL, 0, text, len);
    if (tts_start) c->device->trace.first_frame_origin_us = s->event_origin_us;
}

static void drop_queued_audio(conn *c) {
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

static void pace(conn *c) {
    device_state *d = c->device;
    if (!d->playout_ready) return;
    for (;;) {
        /* One frame in the send queue at a time: the next is encoded after this one is written,
         * so a reply's first frame leaves after one encode and an abort finds little to drop. */
        if (d->frame_in_flight) return;
        int64_t wait_us = 0;
        playout_item *item = playout_next(&d->playout, monotonic_us(), &wait_us);
        if (!item) {
            if (wait_us > 0) uv_timer_start(d->pace_timer, on_pace_timer, (uint64_t)((wait_us + 999) / 1000), 0);
            return;
        }
        if (item->kind == PLAYOUT_FRAME) {
            uint8_t header[DEVICE_FRAME_MAX_HEADER];
            int hlen = device_frame_header(d->protocol_version, item->len, 0, header);
            c->srv->metrics.opus_encoded++;
            if (hlen >= 0 && conn_send(c, 1, header, (size_t)hlen, item->data, item->len) == 0) {
                d->frame_in_flight = 1;
                if (d->trace.first_frame_origin_us) {
                    conn_trace_last(c, HUB_HOP_FIRST_FRAME, c->id, item->turn, d->trace.first_frame_origin_us);
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
                hub_device_playback_done(c->srv->hub, c->id, turn);
                if (c->closed || !c->device) return;
            }
        }
        free(item);
        if (c->close_code) return;
    }
}

void device_frame_written(conn *c) {
    if (!c->device) return;
    c->device->frame_in_flight = 0;
    if (!c->closed && !c->close_code) pace(c);
}

void device_queue_audio(server *s, uint64_t session, int64_t turn, const int16_t *pcm, size_t samples, int rate,
                        const char *frame) {
    conn *c = find(s, session);
    if (!c) return;
    device_state *d = c->device;
    if (ensure_playout(s, d) != 0) return;
    if (playout_push(&d->playout, turn, pcm, samples, rate > 0 ? rate : 24000, frame) != 0) {
        s->metrics.errors[ERR_PLAYOUT_OVERFLOW]++;
        log_event(&s->log, LOG_WARN, "playout.refused",
                  json_pack("{s:I,s:I,s:I}", "session", (json_int_t)session, "turn", (json_int_t)turn, "queued_frames",
                            (json_int_t)d->playout.frames));
    }
    pace(c);
}

void device_audio_end(server *s, uint64_t session, int64_t turn, const char *frame) {
    conn *c = find(s, session);
    if (!c) return;
    device_state *d = c->device;
    if (ensure_playout(s, d) != 0) return;
    playout_end(&d->playout, turn, frame);
    pace(c);
}

void device_flush(server *s, uint64_t session) {
    conn *c = find(s, session);
    if (!c) return;
    if (c->device->playout_ready) s->metrics.frames_dropped_on_flush += playout_flush(&c->device->playout);
    uv_timer_stop(c->device->pace_timer);
    c->device->trace.first_frame_origin_us = 0;
    drop_queued_audio(c);
    c->device->frame_in_flight = 0;
}

void device_close_session(server *s, uint64_t session, int code, const char *reason) {
    conn *c = find(s, session);
    if (!c) return;
    /* The core decides the close code (a session without a hello in time: 1008); the metric
     * keeps its name, voicecored_errors_total{kind="hello_timeout"}. */
    if (!strcmp(reason, "hello-timeout")) s->metrics.errors[ERR_HELLO_TIMEOUT]++;
    conn_close(c, code > 0 ? code : LWS_CLOSE_STATUS_NORMAL, reason);
}

void device_drain(server *s) {
    /* Sessions with nothing to play are told at once; the drain tick closes the rest when their
     * audio has played out or the drain deadline passes. */
    for (size_t i = 0; i < s->devices.cap; i++) {
        conn *c = s->devices.keys[i] ? s->devices.values[i] : NULL;
        if (c && c->device && !(c->device->playout_ready && playout_pending(&c->device->playout)) && !c->out.head)
            conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
}
