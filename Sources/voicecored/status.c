/* /healthz and /metrics: the core's health verdict, counters and counts beside the daemon's own. */
#include "status.h"
#include "http.h"
#include <string.h>

/* The core's health verdict (hub_health), parsed for /healthz; NULL once the core is gone
 * (shutdown). */
static json_t *core_health(status *s, int *degraded) {
    const char *text = NULL;
    size_t len = 0;
    int rc = hub_health(s->hub, &text, &len);
    *degraded = rc == 1;
    return rc < 0 ? NULL : json_loadb(text, len, 0, NULL);
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
    hub_core_metrics(s->hub, &g.core);   /* the core's counters and counts: nothing parsed */
    size_t len = 0;
    char *body = metrics_render(s->t->metrics, &g, &len);
    return body ? http_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", body, len) : -1;
}

void status_register(status *st, transport *t, hub *h, devices *d, workers *w) {
    *st = (status){t, h, d, w};
    transport_add_route(t, &(http_route){.path = "/healthz", .on_request = healthz, .ctx = st});
    transport_add_route(t, &(http_route){.path = "/metrics", .on_request = metrics_page, .ctx = st});
}
