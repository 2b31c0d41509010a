/* /healthz and /metrics: the core's health verdict and counts beside the daemon's own. */
#include "status.h"
#include "http.h"
#include <string.h>

static uint64_t counter_at(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : json_is_real(v) ? (uint64_t)json_real_value(v) : 0;
}

/* The core's health verdict (hub_health), parsed; NULL once the core is gone (shutdown). */
static json_t *core_health(status *s, int *degraded) {
    const char *text = NULL;
    size_t len = 0;
    int rc = hub_health(s->hub, &text, &len);
    *degraded = rc == 1;
    return rc < 0 ? NULL : json_loadb(text, len, 0, NULL);
}

/* The core's counters for /metrics, read from its health report. */
static void core_counters(status *s, metrics_core *m) {
    int degraded = 0;
    json_t *h = core_health(s, &degraded);
    memset(m, 0, sizeof *m);
    if (!h) return;
    m->present = 1;
    json_t *c = json_object_get(h, "counters"), *kinds = json_object_get(h, "kinds");
    for (int k = 0; k < METRICS_KINDS; k++) {
        m->placement_failures[k] = counter_at(json_object_get(c, "placement_failures"), metrics_kind_names[k]);
        m->refusals[k] = counter_at(json_object_get(c, "refusals"), metrics_kind_names[k]);
        const char *status = json_string_value(json_object_get(json_object_get(kinds, metrics_kind_names[k]), "status"));
        m->degraded[k] = status && !strcmp(status, "degraded");
    }
    m->jobs_reconciled = counter_at(c, "jobs_reconciled");
    m->leaks_marked = counter_at(c, "leaks_marked");
    m->recycles = counter_at(c, "recycles");
    m->progress_timeouts = counter_at(c, "progress_timeouts");
    m->heartbeat_timeouts = counter_at(c, "heartbeat_timeouts");
    json_decref(h);
    hub_tallies(s->hub, m);
}

static int healthz(void *ctx, http_exchange *x, const char *path, int is_post) {
    (void)path;
    (void)is_post;
    status *s = ctx;
    /* The core decides health per kind (docs/coordinator.md, "Health"); degraded -> 503 with
     * the reasons. */
    int degraded = 0;
    json_t *core = core_health(s, &degraded);
    json_t *j = json_pack("{s:s,s:I,s:I}", "status", s->t->draining ? "draining" : degraded ? "degraded" : "ok",
                          "devices", (json_int_t)devices_count(s->devices), "workers", (json_int_t)workers_count(s->workers));
    if (core) {
        json_object_set(j, "reasons", json_object_get(core, "reasons"));
        json_object_set(j, "kinds", json_object_get(core, "kinds"));
        json_decref(core);
    }
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return body ? http_respond(x, s->t->draining || degraded ? 503 : 200, "application/json", body, strlen(body)) : -1;
}

static int metrics_page(void *ctx, http_exchange *x, const char *path, int is_post) {
    (void)path;
    (void)is_post;
    status *s = ctx;
    metrics_gauges g = {0};
    transport_gauges(s->t, &g);
    devices_gauges(s->devices, &g);
    g.timers_pending = s->hub ? hub_timers_pending(s->hub) : 0;
    core_counters(s, &g.core);
    size_t len = 0;
    char *body = metrics_render(s->t->metrics, &g, &len);
    return body ? http_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", body, len) : -1;
}

void status_register(status *st, transport *t, hub *h, devices *d, workers *w) {
    *st = (status){t, h, d, w};
    transport_add_route(t, &(http_route){"/healthz", NULL, healthz, NULL, st});
    transport_add_route(t, &(http_route){"/metrics", NULL, metrics_page, NULL, st});
}
