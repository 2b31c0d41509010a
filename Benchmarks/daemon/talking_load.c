/* Load generator for the 500-talking-sessions benchmark: one process, one libuv loop, the
 * libwebsockets client on it. It plays N XiaoZhi devices (protocol v1, real Opus 60 ms frames
 * encoded once with libopus, paced in real time by one libuv timer per device) and the instant
 * scripted workers (ASR ×3 that endpoint the moment an utterance's last frame reached them, one
 * assistant and one TTS that answer at once), all over the real protocols.
 *
 * Why C: the Python generator fell ~400 ms behind at 500 sessions and delivered the devices'
 * frames in bursts, so the daemon was measured under a load no real fleet produces.
 *
 *   voicecored_talking_load --port P --worker-token T [--sessions 500] [--seconds 20]
 *       [--speech-frames 10] [--reply-seconds 0.3] [--pause 1.0] [--asr-workers 3]
 *
 * Prints one JSON object on stdout at the end: turns, no_audio, failed, the devices' view of each
 * turn (last speech frame written → first audio frame read, microseconds), how late the pacing
 * timers fired (so a run says whether its load was smooth), and the generator's own CPU. */
#include <libwebsockets.h>
#include <uv.h>
#include <opus/opus.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define FRAME_MS 60
#define MAX_PACKET 400

static int64_t now_us(void) { return (int64_t)(uv_hrtime() / 1000); }

/* --- a connection and its send queue --------------------------------------------------------- */

typedef struct msg {
    struct msg *next;
    size_t len;
    int binary;
    int speech_last;           /* the utterance's last frame: its write time is "end of speech" */
    unsigned char buf[];       /* LWS_PRE bytes, then the payload */
} msg;

typedef enum { PEER_DEVICE, PEER_WORKER } peer_kind;
typedef enum { W_ASR, W_ASSISTANT, W_TTS } worker_kind;

typedef struct job_bytes { uint64_t job; size_t heard; int used; } job_bytes;

typedef struct peer {
    peer_kind kind;
    int index;
    struct lws *wsi;
    msg *head, *tail;
    unsigned char *rx;
    size_t rx_len, rx_cap;
    int open, failed;
    /* devices */
    uv_timer_t timer;
    int state;                 /* see device_* below */
    int next_frame;
    int64_t t_next_us, t_last_sent_us, t_first_audio_us;
    /* workers */
    worker_kind wkind;
    job_bytes *jobs;           /* ASR: open addressing by job id */
    size_t jobs_cap;
} peer;

enum { DEV_CONNECTING, DEV_WAIT_HELLO, DEV_WAIT_START, DEV_SPEAKING, DEV_WAIT_REPLY, DEV_PAUSE, DEV_DONE };

static struct {
    uv_loop_t loop;
    struct lws_context *ctx;
    int port;
    const char *token;
    int sessions, asr_workers, speech_frames;
    double seconds, reply_seconds, pause;
    unsigned char packets[64][MAX_PACKET];
    int packet_len[64];
    peer *devices, *workers;
    int nworkers, workers_registered, devices_started;
    int64_t start_us, stop_us;
    size_t utterance_bytes;
    unsigned char *reply_pcm;
    size_t reply_len;
    /* results */
    int64_t *seen; size_t nseen, seen_cap;
    int64_t *late; size_t nlate, late_cap;
    long turns, no_audio, failed;
    char why[200];
    uv_timer_t tick;
    int finished;
} g;

static void push_i64(int64_t **a, size_t *n, size_t *cap, int64_t v) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *a = realloc(*a, *cap * sizeof **a);
    }
    (*a)[(*n)++] = v;
}

static msg *enqueue(peer *p, int binary, const void *hdr, size_t hdr_len, const void *body, size_t body_len) {
    msg *m = malloc(sizeof *m + LWS_PRE + hdr_len + body_len);
    m->next = NULL;
    m->len = hdr_len + body_len;
    m->binary = binary;
    m->speech_last = 0;
    if (hdr_len) memcpy(m->buf + LWS_PRE, hdr, hdr_len);
    if (body_len) memcpy(m->buf + LWS_PRE + hdr_len, body, body_len);
    if (p->tail) p->tail->next = m; else p->head = m;
    p->tail = m;
    if (p->wsi) lws_callback_on_writable(p->wsi);
    return m;
}

static void send_text(peer *p, const char *text) { enqueue(p, 0, NULL, 0, text, strlen(text)); }

static void clear_queue(peer *p) {
    while (p->head) { msg *m = p->head; p->head = m->next; free(m); }
    p->tail = NULL;
}

/* --- connecting ---------------------------------------------------------------------------- */

static void connect_peer(peer *p) {
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = g.ctx;
    ci.address = "127.0.0.1";
    ci.port = g.port;
    ci.host = "127.0.0.1";
    ci.origin = "127.0.0.1";
    ci.path = p->kind == PEER_DEVICE ? "/xiaozhi/v1/" : "/worker";
    ci.protocol = NULL;
    ci.opaque_user_data = p;
    ci.pwsi = &p->wsi;
    if (!lws_client_connect_via_info(&ci)) {
        p->failed = 1;
        snprintf(g.why, sizeof g.why, "connect failed (%s %d)", p->kind == PEER_DEVICE ? "device" : "worker", p->index);
    }
}

/* --- devices ------------------------------------------------------------------------------- */

static void device_timer(uv_timer_t *t);

static void device_arm(peer *d, int64_t at_us) {
    int64_t wait = at_us - now_us();
    d->t_next_us = at_us;
    /* libuv timers have millisecond resolution: fire at the ms boundary, send when due. */
    uv_timer_start(&d->timer, device_timer, wait > 0 ? (uint64_t)((wait + 999) / 1000) : 0, 0);
}

static void device_begin_utterance(peer *d) {
    if (now_us() >= g.stop_us) {
        d->state = DEV_DONE;
        return;
    }
    send_text(d, "{\"session_id\":\"\",\"type\":\"listen\",\"state\":\"start\",\"mode\":\"auto\"}");
    d->state = DEV_SPEAKING;
    d->next_frame = 0;
    d->t_first_audio_us = 0;
    d->t_last_sent_us = 0;
    device_arm(d, now_us());
}

static void device_timer(uv_timer_t *t) {
    peer *d = t->data;
    int64_t now = now_us();
    if (d->state == DEV_WAIT_START || d->state == DEV_PAUSE) {
        device_begin_utterance(d);
        return;
    }
    if (d->state != DEV_SPEAKING) return;
    push_i64(&g.late, &g.nlate, &g.late_cap, now - d->t_next_us);
    int k = d->next_frame++;
    msg *m = enqueue(d, 1, NULL, 0, g.packets[k], (size_t)g.packet_len[k]);
    if (d->next_frame == g.speech_frames) {
        m->speech_last = 1;
        d->state = DEV_WAIT_REPLY;
    } else {
        device_arm(d, d->t_next_us + FRAME_MS * 1000);
    }
}

static void device_text(peer *d, const char *text, size_t len) {
    json_error_t err;
    json_t *j = json_loadb(text, len, 0, &err);
    if (!j) return;
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *state = json_string_value(json_object_get(j, "state"));
    if (type && strcmp(type, "hello") == 0 && d->state == DEV_WAIT_HELLO) {
        d->state = DEV_WAIT_START;
        /* Staggered starts spread the fleet over one talk cycle, as real devices would be. */
        int64_t at = g.start_us + (int64_t)((double)d->index * g.pause * 1e6 / (g.sessions > 0 ? g.sessions : 1));
        device_arm(d, at);
    } else if (type && state && strcmp(type, "tts") == 0 && strcmp(state, "stop") == 0 && d->state == DEV_WAIT_REPLY) {
        if (d->t_first_audio_us && d->t_last_sent_us) {
            push_i64(&g.seen, &g.nseen, &g.seen_cap, d->t_first_audio_us - d->t_last_sent_us);
            g.turns++;
        } else {
            g.no_audio++;
        }
        d->state = DEV_PAUSE;
        device_arm(d, now_us() + (int64_t)(g.pause * 1e6));
    }
    json_decref(j);
}

/* --- workers ------------------------------------------------------------------------------- */

static job_bytes *job_slot(peer *w, uint64_t job, int create) {
    if (!w->jobs_cap) {
        w->jobs_cap = 8192;
        w->jobs = calloc(w->jobs_cap, sizeof *w->jobs);
    }
    size_t i = (size_t)(job * 0x9E3779B97F4A7C15ull) & (w->jobs_cap - 1);
    job_bytes *tomb = NULL;
    for (size_t n = 0; n < w->jobs_cap; n++, i = (i + 1) & (w->jobs_cap - 1)) {
        job_bytes *s = &w->jobs[i];
        if (s->used == 1 && s->job == job) return s;
        if (s->used == 2 && !tomb) tomb = s;
        if (s->used == 0) {
            if (!create) return NULL;
            s = tomb ? tomb : s;
            s->used = 1; s->job = job; s->heard = 0;
            return s;
        }
    }
    if (create && tomb) { tomb->used = 1; tomb->job = job; tomb->heard = 0; return tomb; }
    return NULL;
}

static void job_forget(job_bytes *s) { s->used = 2; }

static void worker_output(peer *w, uint64_t job, const char *event, const char *text) {
    char buf[256];
    if (text) snprintf(buf, sizeof buf, "{\"type\":\"output\",\"job\":%llu,\"event\":\"%s\",\"text\":\"%s\"}", (unsigned long long)job, event, text);
    else snprintf(buf, sizeof buf, "{\"type\":\"output\",\"job\":%llu,\"event\":\"%s\"}", (unsigned long long)job, event);
    send_text(w, buf);
}

static void worker_simple(peer *w, const char *type, uint64_t job) {
    char buf[96];
    snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"job\":%llu}", type, (unsigned long long)job);
    send_text(w, buf);
}

static void worker_binary(peer *w, const unsigned char *b, size_t len) {
    if (len < 12) return;
    uint64_t job = 0;
    for (int i = 4; i < 12; i++) job = job << 8 | b[i];
    job_bytes *s = job_slot(w, job, 0);
    if (!s) return;
    size_t before = s->heard;
    s->heard += len - 12;
    if (before == 0) worker_output(w, job, "speech_start", NULL);
    if (before < g.utterance_bytes && g.utterance_bytes <= s->heard) {
        worker_output(w, job, "speech_end", NULL);
        worker_output(w, job, "final", "what time is it");
        worker_simple(w, "done", job);
        job_forget(s);
    }
}

static void worker_text(peer *w, const char *text, size_t len) {
    json_error_t err;
    json_t *j = json_loadb(text, len, 0, &err);
    if (!j) return;
    const char *type = json_string_value(json_object_get(j, "type"));
    uint64_t job = (uint64_t)json_integer_value(json_object_get(j, "job"));
    if (!type) {
    } else if (strcmp(type, "registered") == 0) {
        g.workers_registered++;
    } else if (strcmp(type, "cancel") == 0) {
        job_bytes *s = w->wkind == W_ASR ? job_slot(w, job, 0) : NULL;
        if (s) job_forget(s);
    } else if (strcmp(type, "job") == 0) {
        worker_simple(w, "accepted", job);
        if (w->wkind == W_ASR) {
            job_slot(w, job, 1);
        } else if (w->wkind == W_ASSISTANT) {
            worker_output(w, job, "delta", "It is noon. ");
            worker_simple(w, "done", job);
        } else {
            unsigned char hdr[12] = {1, 1, 0, 1};
            for (int i = 0; i < 8; i++) hdr[4 + i] = (unsigned char)(job >> (56 - 8 * i));
            enqueue(w, 1, hdr, sizeof hdr, g.reply_pcm, g.reply_len);
            worker_output(w, job, "segment_done", NULL);
            worker_simple(w, "done", job);
        }
    }
    json_decref(j);
}

/* --- the lws callback ---------------------------------------------------------------------- */

static int write_queue(peer *p) {
    for (int i = 0; i < 64 && p->head; i++) {
        if (i > 0 && lws_send_pipe_choked(p->wsi)) break;
        msg *m = p->head;
        p->head = m->next;
        if (!p->head) p->tail = NULL;
        int n = lws_write(p->wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (m->speech_last) p->t_last_sent_us = now_us();
        free(m);
        if (n < 0) return -1;
    }
    if (p->head) lws_callback_on_writable(p->wsi);
    return 0;
}

static void peer_failed(peer *p, const char *why) {
    if (p->failed) return;
    p->failed = 1;
    p->open = 0;
    g.failed++;
    if (!g.why[0]) snprintf(g.why, sizeof g.why, "%s %d: %s", p->kind == PEER_DEVICE ? "device" : "worker", p->index, why);
    clear_queue(p);
    if (p->kind == PEER_DEVICE && !uv_is_closing((uv_handle_t *)&p->timer)) uv_timer_stop(&p->timer);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
    (void)user;
    peer *p = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        if (!p) return 0;
        unsigned char **pos = (unsigned char **)in, *end = *pos + len;
        char v[128];
        if (p->kind == PEER_DEVICE) {
            snprintf(v, sizeof v, "bench-%d", p->index);
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"Device-Id:", (unsigned char *)v, (int)strlen(v), pos, end)) return -1;
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"Protocol-Version:", (unsigned char *)"1", 1, pos, end)) return -1;
        } else {
            snprintf(v, sizeof v, "Bearer %s", g.token);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v, (int)strlen(v), pos, end)) return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!p) return -1;
        p->open = 1;
        if (p->kind == PEER_WORKER) {
            /* A TTS reply (0.3 s of PCM) is one 14 KB message: the socket takes it whole, so no
             * part of it waits in this process for another turn of our loop. */
            int size = 4 << 20, fd = (int)lws_get_socket_fd(wsi);
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        }
        if (p->kind == PEER_DEVICE) {
            p->state = DEV_WAIT_HELLO;
            send_text(p, "{\"type\":\"hello\",\"version\":1,\"transport\":\"websocket\",\"audio_params\":"
                         "{\"format\":\"opus\",\"sample_rate\":16000,\"channels\":1,\"frame_duration\":60}}");
        } else {
            static const char *kinds[] = {"asr", "assistant", "tts"};
            const char *k = kinds[p->wkind];
            char buf[256];
            snprintf(buf, sizeof buf, "{\"type\":\"register\",\"protocol\":1,\"name\":\"instant-%s-%d\",\"kinds\":[\"%s\"],"
                     "\"slots\":{\"%s\":%d},\"models\":[],\"labels\":{}}", k, p->index, k, k, g.sessions * 2);
            send_text(p, buf);
        }
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (p) peer_failed(p, in ? (const char *)in : "connection error");
        if (p) p->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!p) return -1;
        if (lws_is_first_fragment(wsi)) p->rx_len = 0;
        if (p->rx_len + len + 1 > p->rx_cap) {
            p->rx_cap = (p->rx_len + len + 1) * 2;
            p->rx = realloc(p->rx, p->rx_cap);
        }
        memcpy(p->rx + p->rx_len, in, len);
        p->rx_len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0) return 0;
        int binary = lws_frame_is_binary(wsi);
        if (p->kind == PEER_DEVICE) {
            if (binary) {
                if (p->state == DEV_WAIT_REPLY && !p->t_first_audio_us) p->t_first_audio_us = now_us();
            } else {
                device_text(p, (const char *)p->rx, p->rx_len);
            }
        } else {
            if (binary) worker_binary(p, p->rx, p->rx_len);
            else worker_text(p, (const char *)p->rx, p->rx_len);
        }
        p->rx_len = 0;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!p) return -1;
        return write_queue(p);
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (p) {
            if (p->kind == PEER_DEVICE && p->state != DEV_DONE) peer_failed(p, "closed by the daemon");
            else if (p->kind == PEER_WORKER && !g.finished) peer_failed(p, "worker closed by the daemon");
            p->open = 0;
            p->wsi = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"talking-load", callback, 0, 1 << 16, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* --- the run ------------------------------------------------------------------------------- */

static void heartbeat(peer *w) {
    char buf[128];
    static const char *kinds[] = {"asr", "assistant", "tts"};
    snprintf(buf, sizeof buf, "{\"type\":\"heartbeat\",\"load\":{\"%s\":0}}", kinds[w->wkind]);
    send_text(w, buf);
}

static int64_t last_heartbeat_us;

static void on_tick(uv_timer_t *t) {
    int64_t now = now_us();
    if (now - last_heartbeat_us >= 2000000) {
        last_heartbeat_us = now;
        for (int i = 0; i < g.nworkers; i++) if (g.workers[i].open) heartbeat(&g.workers[i]);
    }
    if (!g.devices_started && g.workers_registered == g.nworkers) {
        g.devices_started = 1;
        for (int i = 0; i < g.sessions; i++) connect_peer(&g.devices[i]);
    }
    if (g.devices_started) {
        int busy = 0;
        for (int i = 0; i < g.sessions; i++) {
            peer *d = &g.devices[i];
            if (d->failed) continue;
            if (d->state != DEV_DONE) busy = 1;
            else if (d->wsi && d->open) { lws_set_timeout(d->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC); d->open = 0; }
        }
        /* Done when every device finished its last turn, or 30 s after the end at the latest. */
        if ((!busy && now >= g.stop_us) || now >= g.stop_us + 30000000) {
            g.finished = 1;
            uv_timer_stop(t);
            lws_context_destroy(g.ctx);
            g.ctx = NULL;
            for (int i = 0; i < g.sessions; i++) uv_close((uv_handle_t *)&g.devices[i].timer, NULL);
            uv_close((uv_handle_t *)t, NULL);
        }
    }
}

static void encode_speech(void) {
    int err;
    OpusEncoder *enc = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
    opus_int16 pcm[960];
    for (int f = 0; f < g.speech_frames; f++) {
        for (int i = 0; i < 960; i++) pcm[i] = (opus_int16)(6000 * sin(2 * M_PI * 220 * (f * 960 + i) / 16000.0));
        g.packet_len[f] = opus_encode(enc, pcm, 960, g.packets[f], MAX_PACKET);
    }
    opus_encoder_destroy(enc);
}

static double arg_num(int argc, char **argv, const char *name, double def) {
    for (int i = 1; i + 1 < argc; i++) if (strcmp(argv[i], name) == 0) return atof(argv[i + 1]);
    return def;
}

static const char *arg_str(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++) if (strcmp(argv[i], name) == 0) return argv[i + 1];
    return def;
}

static void print_array(const char *name, const int64_t *a, size_t n) {
    printf("\"%s\":[", name);
    for (size_t i = 0; i < n; i++) printf(i ? ",%lld" : "%lld", (long long)a[i]);
    printf("]");
}

int main(int argc, char **argv) {
    g.port = (int)arg_num(argc, argv, "--port", 0);
    g.token = arg_str(argc, argv, "--worker-token", "");
    g.sessions = (int)arg_num(argc, argv, "--sessions", 500);
    g.seconds = arg_num(argc, argv, "--seconds", 20);
    g.speech_frames = (int)arg_num(argc, argv, "--speech-frames", 10);
    g.reply_seconds = arg_num(argc, argv, "--reply-seconds", 0.3);
    g.pause = arg_num(argc, argv, "--pause", 1.0);
    g.asr_workers = (int)arg_num(argc, argv, "--asr-workers", 3);
    if (!g.port || g.speech_frames < 1 || g.speech_frames > 64 || g.sessions < 1) {
        fprintf(stderr, "usage: voicecored_talking_load --port P --worker-token T [--sessions 500] [--seconds 20] "
                        "[--speech-frames 10 (1-64)] [--reply-seconds 0.3] [--pause 1.0] [--asr-workers 3]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    lws_set_log_level(LLL_ERR, NULL);

    encode_speech();
    g.utterance_bytes = (size_t)g.speech_frames * 960 * 2;
    g.reply_len = (size_t)(24000 * g.reply_seconds) * 2;
    g.reply_pcm = malloc(g.reply_len);
    for (size_t i = 0; i < g.reply_len; i += 2) { g.reply_pcm[i] = 0x00; g.reply_pcm[i + 1] = 0x10; }

    uv_loop_init(&g.loop);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {&g.loop};
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    info.fd_limit_per_thread = (unsigned int)(g.sessions + 64);
    info.timeout_secs = 60;
    g.ctx = lws_create_context(&info);
    if (!g.ctx) { fprintf(stderr, "lws_create_context failed\n"); return 1; }

    g.nworkers = g.asr_workers + 2;
    g.workers = calloc((size_t)g.nworkers, sizeof *g.workers);
    g.devices = calloc((size_t)g.sessions, sizeof *g.devices);
    for (int i = 0; i < g.nworkers; i++) {
        peer *w = &g.workers[i];
        w->kind = PEER_WORKER;
        w->index = i;
        w->wkind = i < g.asr_workers ? W_ASR : i == g.asr_workers ? W_ASSISTANT : W_TTS;
        connect_peer(w);
    }
    for (int i = 0; i < g.sessions; i++) {
        peer *d = &g.devices[i];
        d->kind = PEER_DEVICE;
        d->index = i;
        d->state = DEV_CONNECTING;
        uv_timer_init(&g.loop, &d->timer);
        d->timer.data = d;
    }
    /* The talk starts once every device could have connected and said hello. */
    g.start_us = now_us() + 2000000 + (int64_t)g.sessions * 4000;
    g.stop_us = g.start_us + (int64_t)(g.seconds * 1e6);
    last_heartbeat_us = now_us();
    uv_timer_init(&g.loop, &g.tick);
    uv_timer_start(&g.tick, on_tick, 10, 10);

    struct rusage ru0, ru1;
    int64_t talk_began = 0;
    while (!g.finished) {
        if (!talk_began && now_us() >= g.start_us) { talk_began = now_us(); getrusage(RUSAGE_SELF, &ru0); }
        uv_run(&g.loop, UV_RUN_ONCE);
    }
    getrusage(RUSAGE_SELF, &ru1);
    int64_t talk_end = now_us();
    uv_run(&g.loop, UV_RUN_DEFAULT);
    double cpu = talk_began ? (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                              (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6 : 0;
    double wall = talk_began ? (double)(talk_end - talk_began) / 1e6 : 1;
    long not_started = 0;
    for (int i = 0; i < g.sessions; i++) if (g.devices[i].state < DEV_WAIT_START && !g.devices[i].failed) not_started++;
    printf("{\"turns\":%ld,\"no_audio\":%ld,\"failed\":%ld,\"not_started\":%ld,\"cpu_fraction\":%.4f,\"talk_seconds\":%.3f,",
           g.turns, g.no_audio, g.failed, not_started, cpu / (wall > 0 ? wall : 1), wall);
    json_t *why = json_string(g.why);
    char *why_s = json_dumps(why, JSON_ENCODE_ANY);
    printf("\"why\":%s,", why_s);
    free(why_s);
    json_decref(why);
    print_array("device_seen_us", g.seen, g.nseen);
    printf(",");
    print_array("pacing_late_us", g.late, g.nlate);
    printf("}\n");
    uv_loop_close(&g.loop);
    return 0;
}
