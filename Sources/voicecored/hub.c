#include "hub.h"
#include "admin_api.h"
#include "device_session.h"
#include "http_routes.h"
#include "journal.h"
#include "monotonic.h"
#include "timers.h"
#include "worker_link.h"
#include <stdlib.h>
#include <string.h>
#include <voicecore.h>

/* An event that arrived while effects were being carried out (an effect can make a peer report
 * something synchronously); it runs after the current one, so the core never re-enters. */
typedef struct pending_event {
    struct pending_event *next;
    event_origin origin;
    vc_event e;          /* its pointers point into bytes */
    char bytes[];
} pending_event;

struct hub {
    hub_env env;
    vc_coordinator *core;
    timers timers;
    int busy;
    pending_event *pending_head, *pending_tail;
    journal *journal;           /* NULL unless --journal */
    uv_timer_t *flush_timer;    /* writes the journal's buffer JOURNAL_FLUSH_MS after it was dirtied */
};

static void on_timer(void *context, uint64_t id) {
    hub *h = context;
    event_origin origin = {monotonic_us(), 0};
    vc_event e = {.kind = VC_EVENT_TIMER_FIRED, .timer = id};
    hub_event(h, &origin, &e);
}

/* Records reach the file at most this long after the event (and at once when the 1 MiB buffer
 * fills): one write(2) per interval rather than per event, and no wake-ups while idle. */
#define JOURNAL_FLUSH_MS 50

static void flush_journal(uv_timer_t *t) {
    hub *h = t->data;
    if (h->journal) journal_flush(h->journal);
}

static void free_handle(uv_handle_t *handle) { free(handle); }

/* The journal records every event the core is handed (docs/journal.md). One that cannot be
 * opened is logged and the daemon runs without it. */
static void open_journal(hub *h, const char *coordinator_config) {
    const config *cfg = h->env.cfg;
    json_t *header = json_pack("{s:s,s:s,s:o}", "daemon", "voicecored", "library", vc_version(), "config",
                               json_loads(coordinator_config && *coordinator_config ? coordinator_config : "{}", 0, NULL));
    char *header_json = header ? json_dumps(header, JSON_COMPACT) : NULL;
    json_decref(header);
    journal_options o = {cfg->journal, (uint64_t)cfg->journal_max_mb << 20, cfg->journal_keep, cfg->journal_digest_every, header_json};
    char error[512];
    h->journal = journal_open(&o, monotonic_us(), error, sizeof error);
    free(header_json);
    if (!h->journal) {
        log_event(h->env.log, LOG_ERROR, "journal.failed", json_pack("{s:s}", "message", error));
        return;
    }
    h->flush_timer = malloc(sizeof *h->flush_timer);
    if (!h->flush_timer) {
        journal_close(h->journal, 0, 0, 0);
        h->journal = NULL;
        log_event(h->env.log, LOG_ERROR, "journal.failed", json_pack("{s:s}", "message", "out of memory"));
        return;
    }
    uv_timer_init(h->env.loop, h->flush_timer);
    h->flush_timer->data = h;
    log_event(h->env.log, LOG_INFO, "journal.started",
              json_pack("{s:s,s:i,s:i}", "path", journal_path(h->journal), "max_mb", cfg->journal_max_mb, "keep", cfg->journal_keep));
}

static void journal_stopped(hub *h) {
    log_event(h->env.log, LOG_WARN, "journal.stopped",
              json_pack("{s:s,s:I}", "message", journal_error(h->journal), "events", (json_int_t)journal_events(h->journal)));
    journal_close(h->journal, 0, 0, 0);
    h->journal = NULL;
}

static void journal_digest_now(hub *h, int64_t now_us) {
    uint64_t digest = 0, entries = 0;
    vc_coordinator_digest(h->core, &digest, &entries);
    journal_digest(h->journal, now_us, digest, entries);
    if (journal_error(h->journal)) journal_stopped(h);
}

/* The Coordinator's config: --coordinator, plus what the daemon hands it once at start — its
 * codec settings (downlink_sample_rate, downlink_frame_ms: the core's hello announces them) and
 * --hello-timeout-ms as the core's hello_timeout_ms unless --coordinator names that key. A
 * malloc'd JSON text, or NULL when --coordinator is not a JSON object (the core then says why). */
static char *core_config(const config *cfg, const char *coordinator_config) {
    json_t *o = json_loads(coordinator_config && *coordinator_config ? coordinator_config : "{}", 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    if (cfg) {
        json_object_set_new(o, "downlink_sample_rate", json_integer(cfg->downlink_sample_rate));
        json_object_set_new(o, "downlink_frame_ms", json_integer(cfg->downlink_frame_ms));
        if (cfg->hello_timeout_ms > 0 && !json_object_get(o, "hello_timeout_ms"))
            json_object_set_new(o, "hello_timeout_ms", json_integer(cfg->hello_timeout_ms));
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static int sink(void *ctx, const event_origin *origin, const vc_event *event) { return hub_event(ctx, origin, event); }

hub *hub_new(const hub_env *env, const char *coordinator_config, char *error, size_t error_len) {
    hub *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(error, error_len, "out of memory");
        return NULL;
    }
    h->env = *env;
    char *merged = core_config(env->cfg, coordinator_config);
    if (merged) coordinator_config = merged;
    int rc = vc_coordinator_new(&h->core, coordinator_config);
    if (rc != VC_OK) {
        snprintf(error, error_len, "%s", h->core ? vc_coordinator_errmsg(h->core) : vc_strerror(rc));
        vc_coordinator_free(h->core);
        free(merged);
        free(h);
        return NULL;
    }
    timers_init(&h->timers, env->loop, monotonic_us, on_timer, h);
    if (env->cfg && env->cfg->journal && *env->cfg->journal) open_journal(h, coordinator_config);
    free(merged);
    if (env->devices) devices_set_sink(env->devices, (event_sink){sink, h});
    if (env->workers) workers_set_sink(env->workers, (event_sink){sink, h});
    if (env->admin) admin_api_set_sink(env->admin, (event_sink){sink, h});
    if (env->routes) http_routes_set_sink(env->routes, (event_sink){sink, h});
    return h;
}

static void free_timers(uv_handle_t *handle) {
    timers *t = handle->data;
    timers_free(t);
    free((char *)t - offsetof(hub, timers));
}

void hub_free(hub *h) {
    if (!h) return;
    /* Devices and workers that close from here on find no hub. */
    if (h->env.devices) devices_set_sink(h->env.devices, (event_sink){0});
    if (h->env.workers) workers_set_sink(h->env.workers, (event_sink){0});
    if (h->env.admin) admin_api_set_sink(h->env.admin, (event_sink){0});
    if (h->env.routes) http_routes_set_sink(h->env.routes, (event_sink){0});
    if (h->journal) {
        uint64_t digest = 0, entries = 0;
        vc_coordinator_digest(h->core, &digest, &entries);
        log_event(h->env.log, LOG_INFO, "journal.closed",
                  json_pack("{s:s,s:I}", "path", journal_path(h->journal), "events", (json_int_t)journal_events(h->journal)));
        journal_close(h->journal, monotonic_us(), digest, entries);
        h->journal = NULL;
    }
    if (h->flush_timer) {
        uv_timer_stop(h->flush_timer);
        uv_close((uv_handle_t *)h->flush_timer, free_handle);
        h->flush_timer = NULL;
    }
    vc_coordinator_free(h->core);
    h->core = NULL;
    while (h->pending_head) {
        pending_event *p = h->pending_head;
        h->pending_head = p->next;
        free(p);
    }
    /* The hub's memory goes with the timer handle, once libuv has closed it. */
    uv_timer_stop(&h->timers.handle);
    uv_close((uv_handle_t *)&h->timers.handle, free_timers);
}

size_t hub_timers_pending(hub *h) { return timers_pending(&h->timers); }

int hub_health(hub *h, const char **json, size_t *len) {
    if (!h || !h->core) return -1;
    int rc = vc_coordinator_health(h->core, monotonic_us(), json, len);
    return rc < 0 ? -1 : rc;
}

int hub_core_metrics(hub *h, metrics_core *m) {
    memset(m, 0, sizeof *m);
    if (!h || !h->core) return -1;
    vc_counters c;
    if (vc_coordinator_counters(h->core, monotonic_us(), &c) < 0) return -1;
    m->present = 1;
    for (int k = 0; k < METRICS_KINDS && k < VC_KINDS; k++) {
        m->placement_failures[k] = c.placement_failures[k];
        m->refusals[k] = c.refusals[k];
        m->degraded[k] = c.degraded[k];
    }
    m->jobs_reconciled = c.jobs_reconciled;
    m->leaks_marked = c.leaks_marked;
    m->recycles = c.recycles;
    m->progress_timeouts = c.progress_timeouts;
    m->heartbeat_timeouts = c.heartbeat_timeouts;
    vc_tally row;
    for (size_t i = 0; vc_coordinator_tally(h->core, VC_TALLY_EVENTS, i, &row) == 1; i++) {
        if (!row.count) continue;
        named_counter_add(m->core_events, row.name, row.count);
        if (!strncmp(row.name, "worker.", 7)) named_counter_add(m->workers_by_kind, row.name + 7, row.count);
    }
    for (size_t i = 0; vc_coordinator_tally(h->core, VC_TALLY_OUTCOMES, i, &row) == 1; i++)
        named_counter_add(m->turn_outcomes, row.name, row.count);
    for (size_t i = 0; i < METRICS_MAX_STAGES && vc_coordinator_tally(h->core, VC_TALLY_STAGES, i, &row) == 1; i++) {
        stage_histogram *st = &m->stages[i];
        snprintf(st->name, sizeof st->name, "%s", row.name);
        for (int b = 0; b <= HISTOGRAM_BUCKETS && b <= VC_TALLY_BUCKETS; b++) st->h.counts[b] = row.buckets[b];
        st->h.count = row.count;
        st->h.sum = (double)row.sum_us / 1e6;
    }
    m->usage_rows = 0;
    for (size_t i = 0; i < METRICS_MAX_USAGE && vc_coordinator_tally(h->core, VC_TALLY_USAGE, i, &row) == 1; i++) {
        usage_row *u = &m->usage[m->usage_rows++];
        const char *tab = strchr(row.name, '\t');
        size_t agent_len = tab ? (size_t)(tab - row.name) : strlen(row.name);
        snprintf(u->agent, sizeof u->agent, "%.*s", (int)agent_len, row.name);
        snprintf(u->model, sizeof u->model, "%s", tab ? tab + 1 : "unknown");
        u->tokens = row.count;
        u->turns = row.buckets[0];
        u->estimated = row.buckets[1];
    }
    return 0;
}

/* One effect, carried out after the core's handle has returned: what it makes a device or worker
 * report at once comes back through the sink while the hub is busy and runs after this event.
 * Bodies are text frames the core made for the peer: sent as they are. */
static void carry_out(hub *h, const vc_effect *e, const event_origin *origin) {
    const hub_env *s = &h->env;
    switch (e->kind) {
    case VC_EFFECT_DEVICE_SEND:
        device_send_text(s->devices, e->session, e->body, e->body_len, (e->flags & VC_EFFECT_HELLO) != 0,
                         (e->flags & VC_EFFECT_TTS_START) != 0, origin->read_us);
        break;
    case VC_EFFECT_DEVICE_AUDIO:
        device_queue_audio(s->devices, e->session, (int64_t)e->turn, (const int16_t *)e->data, e->data_len / 2, e->sample_rate,
                           e->body);
        break;
    case VC_EFFECT_DEVICE_AUDIO_END:
        device_audio_end(s->devices, e->session, (int64_t)e->turn, e->body);
        break;
    case VC_EFFECT_DEVICE_FLUSH:
        device_flush(s->devices, e->session);
        break;
    case VC_EFFECT_DEVICE_PAUSE:
        device_pause(s->devices, e->session, 1, (e->flags & VC_EFFECT_DEVICE_DROPS) != 0);
        break;
    case VC_EFFECT_DEVICE_RESUME:
        device_pause(s->devices, e->session, 0, 0);
        break;
    case VC_EFFECT_DEVICE_CLOSE:
        device_close_session(s->devices, e->session, e->code, e->body ? e->body : "");
        break;
    case VC_EFFECT_WORKER_SEND: {
        /* A reply's assistant job and its first TTS job are hops of the turn's critical path. */
        hub_hop hop = e->job_kind == VC_KIND_ASSISTANT                ? HUB_HOP_ASSISTANT_JOB
                      : e->job_kind == VC_KIND_TTS && e->segment == 0 ? HUB_HOP_TTS_JOB
                                                                        : HUB_HOP_NONE;
        worker_send_text(s->workers, e->worker, e->body, e->body_len, hop, e->session, (int64_t)e->turn, origin);
        break;
    }
    case VC_EFFECT_WORKER_AUDIO:
        worker_send_audio(s->workers, e->worker, e->job, e->data, e->data_len, origin);
        break;
    case VC_EFFECT_WORKER_CLOSE:
        worker_close(s->workers, e->worker, e->code, e->body ? e->body : "");
        break;
    case VC_EFFECT_TIMER_SET:
        timers_set(&h->timers, e->timer, e->at_us);
        break;
    case VC_EFFECT_TIMER_CANCEL:
        timers_cancel(&h->timers, e->timer);
        break;
    case VC_EFFECT_HTTP_RESPOND:
        if (s->admin) admin_api_respond(s->admin, e->request, e->code, e->body, e->body_len);
        break;
    default:
        log_event(s->log, LOG_WARN, "effect.unknown", json_pack("{s:i}", "kind", e->kind));
    }
}

static const char *event_name(int kind) {
    static const char *const names[] = {"?", "device.connected", "device.message", "device.audio", "device.playback_done",
                                        "device.disconnected", "text.input", "worker.connected", "worker.message",
                                        "worker.audio", "worker.disconnected", "timer.fired", "config", "admin.request",
                                        "device.language"};
    return kind > 0 && kind < (int)(sizeof names / sizeof *names) ? names[kind] : "?";
}

/* What the daemon notes of a rejection (the core logged it as input.rejected and answered the
 * peer): malformed text frames and other rejections are counted; a rejection of an event the
 * daemon makes up itself is logged, since it means the daemon and the core disagree. */
static void rejected(hub *h, const vc_event *e, int rc) {
    const hub_env *s = &h->env;
    /* A rejected admin request is answered by the core (400 with the reason) like any other. */
    if (e->kind == VC_EVENT_DEVICE_DISCONNECTED || e->kind == VC_EVENT_WORKER_DISCONNECTED || e->kind == VC_EVENT_TIMER_FIRED ||
        e->kind == VC_EVENT_ADMIN_REQUEST)
        return;
    const char *error = vc_coordinator_errmsg(h->core);
    if (rc == VC_ERR_CORRUPT) {
        s->metrics->errors[ERR_MALFORMED_JSON]++;
        int device = e->kind == VC_EVENT_DEVICE_MESSAGE;
        log_event(s->log, LOG_WARN, device ? "device.bad_message" : "worker.bad_message",
                  json_pack("{s:I,s:s}", device ? "session" : "worker", (json_int_t)(device ? e->session : e->worker), "error", error));
        return;
    }
    s->metrics->errors[ERR_CORE_REJECTED]++;
    if (e->kind == VC_EVENT_DEVICE_CONNECTED || e->kind == VC_EVENT_DEVICE_PLAYBACK_DONE || e->kind == VC_EVENT_WORKER_CONNECTED)
        log_event(s->log, LOG_ERROR, "core.rejected",
                  json_pack("{s:s,s:I,s:I,s:s}", "event", event_name(e->kind), "session", (json_int_t)e->session, "worker",
                            (json_int_t)e->worker, "error", error));
}

static int run_one(hub *h, const event_origin *origin, const vc_event *ev) {
    const hub_env *s = &h->env;
    int64_t start = monotonic_us();
    int digest_due = 0;
    if (h->journal) {
        if ((digest_due = journal_event(h->journal, start, ev)) < 0) journal_stopped(h);
        else if (!uv_is_active((uv_handle_t *)h->flush_timer)) uv_timer_start(h->flush_timer, flush_journal, JOURNAL_FLUSH_MS, 0);
    }
    int rc = vc_coordinator_handle(h->core, ev, start);
    if (rc < 0) rejected(h, ev, rc);
    vc_effect e;
    while (vc_coordinator_next_effect(h->core, &e) == 1) carry_out(h, &e, origin);
    const char *line;
    size_t line_len;
    while (vc_coordinator_next_log(h->core, &line, &line_len) == 1) {
        log_line(s->log, line, line_len);
    }
    if (digest_due > 0 && h->journal) journal_digest_now(h, start);
    histogram_observe(&s->metrics->hub_seconds, (double)(monotonic_us() - start) / 1e6);
    return rc;
}

/* A copy of an event and its origin whose bytes live in the copy. */
static pending_event *copy_event(const event_origin *origin, const vc_event *e) {
    size_t n = e->body_len + e->device_id_len + e->client_id_len + e->data_len + e->path_len + e->token_len;
    pending_event *p = malloc(sizeof *p + n);
    if (!p) return NULL;
    p->next = NULL;
    p->origin = *origin;
    p->e = *e;
    char *at = p->bytes;
    if (e->body_len) memcpy(at, e->body, e->body_len);
    p->e.body = e->body_len ? at : NULL;
    at += e->body_len;
    if (e->device_id_len) memcpy(at, e->device_id, e->device_id_len);
    p->e.device_id = e->device_id_len ? at : NULL;
    at += e->device_id_len;
    if (e->client_id_len) memcpy(at, e->client_id, e->client_id_len);
    p->e.client_id = e->client_id_len ? at : NULL;
    at += e->client_id_len;
    if (e->data_len) memcpy(at, e->data, e->data_len);
    p->e.data = e->data_len ? at : NULL;
    at += e->data_len;
    if (e->path_len) memcpy(at, e->path, e->path_len);
    p->e.path = e->path_len ? at : NULL;
    at += e->path_len;
    if (e->token_len) memcpy(at, e->token, e->token_len);
    p->e.token = e->token_len ? at : NULL;
    return p;
}

int hub_event(hub *h, const event_origin *origin, const vc_event *e) {
    if (!h || !h->core) return VC_ERR_STATE;
    if (h->busy) {
        pending_event *p = copy_event(origin, e);
        if (!p) return VC_ERR_NOMEM;
        if (h->pending_tail) h->pending_tail->next = p; else h->pending_head = p;
        h->pending_tail = p;
        return VC_OK;   /* its verdict is logged by the core when it runs */
    }
    h->busy = 1;
    int rc = run_one(h, origin, e);
    while (h->pending_head) {
        pending_event *p = h->pending_head;
        h->pending_head = p->next;
        if (!h->pending_head) h->pending_tail = NULL;
        run_one(h, &p->origin, &p->e);
        free(p);
    }
    h->busy = 0;
    return rc;
}
