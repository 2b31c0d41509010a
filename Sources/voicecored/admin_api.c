#include "admin_api.h"
#include "http.h"
#include "http_request.h"
#include "monotonic.h"
#include <stdlib.h>
#include <string.h>

/* A JSON answer {"error": message}. */
static int refuse(admin_api *a, http_exchange *x, int status, const char *message, const char *path, int is_post) {
    log_event(a->log, LOG_WARN, "admin.refused",
              json_pack("{s:s,s:s,s:i}", "method", is_post ? "POST" : "GET", "path", path, "status", status));
    json_t *j = json_pack("{s:s}", "error", message);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return -1;
    size_t len = strlen(text);
    char *body = realloc(text, len + 2);
    if (!body) {
        free(text);
        return -1;
    }
    body[len] = '\n';
    body[len + 1] = 0;
    return http_respond(x, status, "application/json", body, len + 1);
}

static int on_refuse(void *ctx, http_exchange *x, int status, const char *why) {
    return refuse(ctx, x, status, why, "/api/v1", status != 405);
}

/* Hands the request to the hub: the core answers it (admin_api_respond), normally before this
 * returns. */
static int forward(admin_api *a, http_exchange *x, const char *path, int is_post) {
    uint64_t id = a->next_id++;
    if (idmap_put(&a->waiting, id, x) < 0) return refuse(a, x, 500, "out of memory", path, is_post);
    x->waiting = id;
    event_origin origin = {monotonic_us(), 0};
    vc_event e = {.kind = VC_EVENT_ADMIN_REQUEST, .request = id, .flags = is_post ? VC_EVENT_POST : 0u, .path = path,
                  .path_len = strlen(path), .body = x->body, .body_len = x->body_len};
    int rc = event_sink_deliver(&a->sink, &origin, &e);
    if (x->waiting == id && rc == VC_ERR_STATE) {
        idmap_remove(&a->waiting, id);
        x->waiting = 0;
        return refuse(a, x, 503, "the daemon is shutting down", path, is_post);
    }
    return 0;
}

/* The path of the request on x (lws keeps it while the request is served). */
static const char *path_of(http_exchange *x, char *out, size_t len) {
    if (lws_hdr_copy(x->wsi, out, (int)len, WSI_TOKEN_POST_URI) > 0 || lws_hdr_copy(x->wsi, out, (int)len, WSI_TOKEN_GET_URI) > 0)
        return out;
    snprintf(out, len, "/api/v1");
    return out;
}

static int on_request(void *ctx, http_exchange *x, const char *path, int is_post) {
    admin_api *a = ctx;
    log_event(a->log, LOG_DEBUG, "admin.request", json_pack("{s:s,s:s}", "method", is_post ? "POST" : "GET", "path", path));
    if (!*a->cfg->admin_token) return refuse(a, x, 403, "admin API disabled: start with --admin-token", path, is_post);
    char header[600], token[512];
    int n = http_header(x->wsi, WSI_TOKEN_HTTP_AUTHORIZATION, header, sizeof header);
    if (n <= 0) {
        a->metrics->errors[ERR_UNAUTHORIZED]++;
        return refuse(a, x, 401, "a bearer token is required (Authorization: Bearer <admin token>)", path, is_post);
    }
    if (bearer_token(header, (size_t)n, token, sizeof token) < 0 || !tokens_equal(token, a->cfg->admin_token)) {
        a->metrics->errors[ERR_UNAUTHORIZED]++;
        return refuse(a, x, 403, "the admin token is wrong", path, is_post);
    }
    if (strlen(path) >= 512) return refuse(a, x, 414, "path too long", path, is_post);
    if (is_post) return 0;   /* handed on once the body is in (on_body) */
    return forward(a, x, path, 0);
}

static int on_body(void *ctx, http_exchange *x) {
    char path[512];
    return forward(ctx, x, path_of(x, path, sizeof path), 1);
}

static void on_gone(void *ctx, http_exchange *x) {
    admin_api *a = ctx;
    idmap_remove(&a->waiting, x->waiting);
}

void admin_api_respond(admin_api *a, uint64_t request, int status, const char *body, size_t len) {
    http_exchange *x = idmap_get(&a->waiting, request);
    if (!x) {
        /* Its connection closed before the answer. */
        log_event(a->log, LOG_INFO, "admin.dropped", json_pack("{s:I,s:i}", "request", (json_int_t)request, "status", status));
        return;
    }
    idmap_remove(&a->waiting, request);
    x->waiting = 0;
    if (status < 200 || status > 599) status = 500;
    char *copy = malloc(len + 2);
    if (!copy) return;
    if (len) memcpy(copy, body, len);
    copy[len] = '\n';
    copy[len + 1] = 0;
    http_respond(x, status, "application/json", copy, len + 1);
}

void admin_api_init(admin_api *a, transport *t, const config *cfg, logger *log, metrics *m) {
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    a->log = log;
    a->metrics = m;
    idmap_init(&a->waiting);
    a->next_id = 1;
    transport_add_route(t, &(http_route){.path = "/api/v1", .prefix = 1, .on_request = on_request, .on_body = on_body,
                                         .on_refuse = on_refuse, .on_gone = on_gone, .ctx = a});
}

void admin_api_set_sink(admin_api *a, event_sink sink) { a->sink = sink; }

void admin_api_free(admin_api *a) { idmap_free(&a->waiting); }
