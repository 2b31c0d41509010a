#include "metrics.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[HISTOGRAM_BUCKETS] = {
    0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};
static const char *const error_names[ERR_KIND_COUNT] = {
    "malformed_json", "bad_message", "bad_frame", "bad_opus", "oversized", "unauthorized",
    "send_queue_overflow", "connection_limit", "core_rejected", "playout_overflow", "hello_timeout", "unknown_peer", "uplink_flood"};
static const char *const peer_names[PEER_KIND_COUNT] = {"device", "worker"};
const char *const metrics_kind_names[METRICS_KINDS] = {"asr", "tts", "assistant", "llm"};

static const char *const hop_names[HUB_HOP_COUNT] = {"total", "uplink", "assistant_job", "tts_job", "first_frame"};

const char *hub_hop_name(hub_hop hop) { return hop < HUB_HOP_COUNT ? hop_names[hop] : "none"; }

void histogram_observe(histogram *h, double seconds) {
    int i = 0;
    while (i < HISTOGRAM_BUCKETS && seconds > bucket_bounds[i]) i++;
    h->counts[i]++;
    h->sum += seconds;
    h->count++;
}

void named_counter_add(named_counter *table, const char *name, uint64_t n) {
    for (int i = 0; i < METRICS_MAX_NAMES; i++) {
        if (table[i].name[0] == 0) {
            snprintf(table[i].name, sizeof table[i].name, "%s", name);
            table[i].value = n;
            return;
        }
        if (strncmp(table[i].name, name, sizeof table[i].name - 1) == 0) {
            table[i].value += n;
            return;
        }
    }
    /* A full table drops new names rather than grow with input an attacker might choose. */
}

typedef struct text {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n) * 2;
        char *b = realloc(t->buf, cap);
        if (!b) return;
        t->buf = b;
        t->cap = cap;
    }
}

/* Label values come from the Coordinator's log; keep them to a safe alphabet. */
static const char *label(const char *s, char *out, size_t cap) {
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) {
        char c = *s;
        out[k++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') ? c : '_';
    }
    out[k] = 0;
    return out;
}

/* One labeled Prometheus histogram series: cumulative buckets, +Inf, sum and count. */
static void labeled_histogram(text *t, const char *metric, const char *label_name, const char *label_value, const histogram *h) {
    uint64_t cum = 0;
    for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
        cum += h->counts[i];
        put(t, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", metric, label_name, label_value, bucket_bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[HISTOGRAM_BUCKETS];
    put(t, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n%s_sum{%s=\"%s\"} %.9f\n%s_count{%s=\"%s\"} %llu\n",
        metric, label_name, label_value, (unsigned long long)cum, metric, label_name, label_value, h->sum,
        metric, label_name, label_value, (unsigned long long)h->count);
}

/* An unlabeled Prometheus histogram series. */
static void plain_histogram(text *t, const char *metric, const histogram *h) {
    uint64_t cum = 0;
    for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
        cum += h->counts[i];
        put(t, "%s_bucket{le=\"%g\"} %llu\n", metric, bucket_bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[HISTOGRAM_BUCKETS];
    put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", metric, (unsigned long long)cum, metric, h->sum, metric,
        (unsigned long long)h->count);
}

static void named(text *t, const char *metric, const char *help, const char *label_name, const named_counter *table, const char *type) {
    put(t, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
    char buf[64];
    for (int i = 0; i < METRICS_MAX_NAMES && table[i].name[0]; i++)
        put(t, "%s{%s=\"%s\"} %llu\n", metric, label_name, label(table[i].name, buf, sizeof buf), (unsigned long long)table[i].value);
}

char *metrics_render(const metrics *m, const metrics_gauges *g, size_t *len) {
    text t = {malloc(8192), 0, 8192};
    if (!t.buf) return NULL;
    t.buf[0] = 0;
    put(&t, "# HELP voicecored_connections Open WebSocket connections by peer kind.\n# TYPE voicecored_connections gauge\n");
    for (int p = 0; p < PEER_KIND_COUNT; p++) put(&t, "voicecored_connections{peer=\"%s\"} %lld\n", peer_names[p], (long long)m->connected[p]);
    put(&t, "# HELP voicecored_sessions Device sessions open.\n# TYPE voicecored_sessions gauge\nvoicecored_sessions %lld\n",
        (long long)m->connected[PEER_DEVICE]);
    put(&t, "# HELP voicecored_connections_total WebSocket connections accepted.\n# TYPE voicecored_connections_total counter\n");
    for (int p = 0; p < PEER_KIND_COUNT; p++) put(&t, "voicecored_connections_total{peer=\"%s\"} %llu\n", peer_names[p], (unsigned long long)m->connections_total[p]);
    put(&t, "# HELP voicecored_bytes_total WebSocket payload bytes.\n# TYPE voicecored_bytes_total counter\n");
    for (int p = 0; p < PEER_KIND_COUNT; p++) {
        put(&t, "voicecored_bytes_total{peer=\"%s\",direction=\"in\"} %llu\n", peer_names[p], (unsigned long long)m->bytes_in[p]);
        put(&t, "voicecored_bytes_total{peer=\"%s\",direction=\"out\"} %llu\n", peer_names[p], (unsigned long long)m->bytes_out[p]);
    }
    put(&t, "# HELP voicecored_messages_total WebSocket messages (frames).\n# TYPE voicecored_messages_total counter\n");
    for (int p = 0; p < PEER_KIND_COUNT; p++) {
        put(&t, "voicecored_messages_total{peer=\"%s\",direction=\"in\"} %llu\n", peer_names[p], (unsigned long long)m->messages_in[p]);
        put(&t, "voicecored_messages_total{peer=\"%s\",direction=\"out\"} %llu\n", peer_names[p], (unsigned long long)m->messages_out[p]);
    }
    put(&t, "# HELP voicecored_opus_frames_total Opus frames decoded (uplink) and encoded (downlink).\n# TYPE voicecored_opus_frames_total counter\n");
    put(&t, "voicecored_opus_frames_total{op=\"decode\"} %llu\nvoicecored_opus_frames_total{op=\"encode\"} %llu\n",
        (unsigned long long)m->opus_decoded, (unsigned long long)m->opus_encoded);
    put(&t, "# HELP voicecored_frames_flushed_total Queued downlink frames dropped by a flush (abort, barge-in).\n# TYPE voicecored_frames_flushed_total counter\nvoicecored_frames_flushed_total %llu\n",
        (unsigned long long)m->frames_dropped_on_flush);
    put(&t, "# HELP voicecored_frames_rewound_total Downlink frames a paused reply's device was told to drop, queued to go out again if the reply resumes.\n# TYPE voicecored_frames_rewound_total counter\nvoicecored_frames_rewound_total %llu\n",
        (unsigned long long)m->frames_rewound);
    put(&t, "# HELP voicecored_errors_total Rejected input and refused work, by kind.\n# TYPE voicecored_errors_total counter\n");
    for (int e = 0; e < ERR_KIND_COUNT; e++) put(&t, "voicecored_errors_total{kind=\"%s\"} %llu\n", error_names[e], (unsigned long long)m->errors[e]);
    put(&t, "# HELP voicecored_http_requests_total HTTP requests served.\n# TYPE voicecored_http_requests_total counter\nvoicecored_http_requests_total %llu\n",
        (unsigned long long)m->http_requests);
    put(&t, "# HELP voicecored_queue_depth Queue depths: downlink frames awaiting pacing, unsent bytes, armed timers.\n# TYPE voicecored_queue_depth gauge\n");
    put(&t, "voicecored_queue_depth{queue=\"playout_frames\"} %llu\nvoicecored_queue_depth{queue=\"send_bytes\"} %llu\nvoicecored_queue_depth{queue=\"timers\"} %llu\n",
        (unsigned long long)g->playout_frames_queued, (unsigned long long)g->send_queue_bytes, (unsigned long long)g->timers_pending);
    put(&t, "# HELP voicecored_draining 1 while the daemon drains after SIGTERM.\n# TYPE voicecored_draining gauge\nvoicecored_draining %d\n", g->draining);
    put(&t, "# HELP voicecored_hub_seconds Time one event spends in the Coordinator, effects carried out included.\n# TYPE voicecored_hub_seconds histogram\n");
    plain_histogram(&t, "voicecored_hub_seconds", &m->hub_seconds);
    put(&t, "# HELP voicecored_turn_stage_seconds Time from the user falling silent to each stage of a turn (turn.mark).\n"
            "# TYPE voicecored_turn_stage_seconds histogram\n");
    char lbl[64];
    for (int s = 0; s < METRICS_MAX_STAGES && g->core.stages[s].name[0]; s++) {
        label(g->core.stages[s].name, lbl, sizeof lbl);
        labeled_histogram(&t, "voicecored_turn_stage_seconds", "stage", lbl, &g->core.stages[s].h);
    }
    put(&t, "# HELP voicecored_hub_hop_seconds Hub-added latency on a turn's critical path: from reading a message to writing the one it "
            "causes (worker time excluded); hop=\"total\" sums a turn's hops, end of speech to first audio frame out.\n"
            "# TYPE voicecored_hub_hop_seconds histogram\n");
    for (int hop = 0; hop < HUB_HOP_COUNT; hop++) {
        labeled_histogram(&t, "voicecored_hub_hop_seconds", "hop", hub_hop_name((hub_hop)hop), &m->hub_hops[hop]);
    }
    put(&t, "# HELP voicecored_loop_busy_seconds Time one event-loop iteration works between two polls (a message that "
            "waits for the next iteration waits this long).\n# TYPE voicecored_loop_busy_seconds histogram\n");
    plain_histogram(&t, "voicecored_loop_busy_seconds", &m->loop_busy);
    put(&t, "# HELP voicecored_messages_split_total Messages whose bytes were read over more than one event-loop iteration.\n"
            "# TYPE voicecored_messages_split_total counter\n");
    for (int p = 0; p < PEER_KIND_COUNT; p++)
        put(&t, "voicecored_messages_split_total{peer=\"%s\"} %llu\n", peer_names[p], (unsigned long long)m->messages_split[p]);
    named(&t, "voicecored_core_events_total", "Coordinator log events by name.", "event", g->core.core_events, "counter");
    named(&t, "voicecored_turns_total", "Turns ended, by outcome (from the Coordinator's log).", "outcome", g->core.turn_outcomes, "counter");
    named(&t, "voicecored_worker_events_total", "Worker lifecycle events from the Coordinator's log (registered, gone, ejected, restored).", "event", g->core.workers_by_kind, "counter");
    put(&t, "# HELP voicecored_pending_connections Connections that have not completed their request headers.\n"
            "# TYPE voicecored_pending_connections gauge\nvoicecored_pending_connections %llu\n",
        (unsigned long long)g->pending_connections);
    put(&t, "# HELP voicecored_admission_total Connections closed before their request: refused at accept (a limit), "
            "evicted (oldest pending of a full address) or past the header timeout.\n# TYPE voicecored_admission_total counter\n");
    put(&t, "voicecored_admission_total{action=\"refused\"} %llu\nvoicecored_admission_total{action=\"evicted\"} %llu\n"
            "voicecored_admission_total{action=\"header_timeout\"} %llu\n",
        (unsigned long long)g->admission_refused, (unsigned long long)g->admission_evicted, (unsigned long long)g->header_timeouts);
    put(&t, "# HELP voicecored_memory_trims_total Times freed heap memory was handed back to the OS after connections closed.\n"
            "# TYPE voicecored_memory_trims_total counter\nvoicecored_memory_trims_total %llu\n", (unsigned long long)g->memory_trims);
    const metrics_core *c = &g->core;
    if (c->present) {
        put(&t, "# HELP voicecored_llm_tokens_total LLM tokens of assistant turns, by agent and model (reported by the LLM, else estimated).\n"
                "# TYPE voicecored_llm_tokens_total counter\n");
        char agent[80], model[144];
        for (int i = 0; i < c->usage_rows; i++)
            put(&t, "voicecored_llm_tokens_total{agent=\"%s\",model=\"%s\"} %llu\n", label(c->usage[i].agent, agent, sizeof agent),
                label(c->usage[i].model, model, sizeof model), (unsigned long long)c->usage[i].tokens);
        put(&t, "# HELP voicecored_llm_turns_total Assistant turns whose tokens were counted, by agent, model and source "
                "(reported: the LLM's usage; estimated: from the text).\n# TYPE voicecored_llm_turns_total counter\n");
        for (int i = 0; i < c->usage_rows; i++) {
            label(c->usage[i].agent, agent, sizeof agent);
            label(c->usage[i].model, model, sizeof model);
            put(&t, "voicecored_llm_turns_total{agent=\"%s\",model=\"%s\",source=\"reported\"} %llu\n", agent, model,
                (unsigned long long)(c->usage[i].turns - c->usage[i].estimated));
            put(&t, "voicecored_llm_turns_total{agent=\"%s\",model=\"%s\",source=\"estimated\"} %llu\n", agent, model,
                (unsigned long long)c->usage[i].estimated);
        }
        put(&t, "# HELP voicecored_placement_failures_total Jobs no worker could take within queue_timeout_ms (they failed open), by kind.\n"
                "# TYPE voicecored_placement_failures_total counter\n");
        for (int k = 0; k < METRICS_KINDS; k++)
            put(&t, "voicecored_placement_failures_total{kind=\"%s\"} %llu\n", metrics_kind_names[k], (unsigned long long)c->placement_failures[k]);
        put(&t, "# HELP voicecored_job_refusals_total Jobs a worker refused before accepting (retryable), placed elsewhere at once, by kind.\n"
                "# TYPE voicecored_job_refusals_total counter\n");
        for (int k = 0; k < METRICS_KINDS; k++)
            put(&t, "voicecored_job_refusals_total{kind=\"%s\"} %llu\n", metrics_kind_names[k], (unsigned long long)c->refusals[k]);
        put(&t, "# HELP voicecored_reconciliations_total Corrections of the hub's view from worker heartbeats: jobs moved the worker "
                "did not run, leaked slots counted as occupied, workers recycled.\n# TYPE voicecored_reconciliations_total counter\n");
        put(&t, "voicecored_reconciliations_total{action=\"job_moved\"} %llu\nvoicecored_reconciliations_total{action=\"leak_marked\"} %llu\n"
                "voicecored_reconciliations_total{action=\"recycled\"} %llu\n",
            (unsigned long long)c->jobs_reconciled, (unsigned long long)c->leaks_marked, (unsigned long long)c->recycles);
        put(&t, "# HELP voicecored_job_timeouts_total Running jobs without progress in time, and workers gone after missed heartbeats.\n"
                "# TYPE voicecored_job_timeouts_total counter\n");
        put(&t, "voicecored_job_timeouts_total{what=\"progress\"} %llu\nvoicecored_job_timeouts_total{what=\"heartbeat\"} %llu\n",
            (unsigned long long)c->progress_timeouts, (unsigned long long)c->heartbeat_timeouts);
        put(&t, "# HELP voicecored_kind_degraded 1 while the core reports a worker kind degraded (see /healthz).\n# TYPE voicecored_kind_degraded gauge\n");
        for (int k = 0; k < METRICS_KINDS; k++) put(&t, "voicecored_kind_degraded{kind=\"%s\"} %d\n", metrics_kind_names[k], c->degraded[k]);
    }
    *len = t.len;
    return t.buf;
}
