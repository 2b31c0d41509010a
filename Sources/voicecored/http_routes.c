/* Plain HTTP on the daemon's port: OTA for devices, /healthz, /metrics, the browser page, and
 * the admission check of WebSocket upgrades (tokens, limits, identifiers). */
#include "http.h"
#include "http_request.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void upgrade_request_read(server *s, struct lws *wsi, upgrade_request *r) {
    memset(r, 0, sizeof *r);
    r->kind = -1;
    char uri[256];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0) {
        if (!strcmp(uri, "/xiaozhi/v1/") || !strcmp(uri, "/xiaozhi/v1")) r->kind = CONN_DEVICE;
        else if (!strcmp(uri, "/worker") || !strcmp(uri, "/worker/")) r->kind = CONN_WORKER;
    }
    if (r->kind < 0) {
        r->status = 404;
        r->why = "no WebSocket endpoint here (devices: /xiaozhi/v1/, workers: /worker)";
        return;
    }
    if (s->draining) {
        r->status = 503;
        r->why = "server is draining";
        return;
    }
    char token[512];
    int have_token = http_presented_token(wsi, token, sizeof token) > 0;
    if (r->kind == CONN_WORKER) {
        if (s->workers.count >= (size_t)s->cfg->max_workers) {
            r->status = 503;
            r->why = "worker connection limit reached";
            return;
        }
        if (!have_token || !tokens_equal(token, s->cfg->worker_token)) {
            r->status = 401;
            r->why = "a valid worker bearer token is required";
        }
        return;
    }
    if (s->devices.count >= (size_t)s->cfg->max_devices) {
        r->status = 503;
        r->why = "device connection limit reached";
        return;
    }
    for (int i = 0; have_token && i < s->cfg->device_token_count; i++)
        if (tokens_equal(token, s->cfg->device_token_list[i])) r->authenticated = 1;
    if (s->cfg->device_token_count > 0 && !r->authenticated) {
        r->status = 401;
        r->why = "a valid device token is required (Authorization: Bearer <token>)";
        return;
    }
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

int http_route_upgrade(server *s, struct lws *wsi) {
    upgrade_request r;
    upgrade_request_read(s, wsi, &r);
    if (r.status == 0) return 0;
    s->metrics.errors[r.status == 401 ? ERR_UNAUTHORIZED : r.status == 503 ? ERR_CONNECTION_LIMIT : ERR_BAD_MESSAGE]++;
    log_event(&s->log, LOG_WARN, "upgrade.refused", json_pack("{s:i,s:s}", "status", r.status, "why", r.why));
    return http_refuse_upgrade(wsi, r.status, r.why);
}

static char *ota_body(server *s, struct lws *wsi) {
    char url[512];
    if (*s->cfg->public_ws_url) {
        snprintf(url, sizeof url, "%s", s->cfg->public_ws_url);
    } else {
        char host[256];
        if (http_header(wsi, WSI_TOKEN_HOST, host, sizeof host) <= 0) snprintf(host, sizeof host, "127.0.0.1:%d", s->port);
        snprintf(url, sizeof url, "%s://%s/xiaozhi/v1/", *s->cfg->tls_cert ? "wss" : "ws", host);
    }
    const char *token = *s->cfg->ota_token ? s->cfg->ota_token
                        : s->cfg->device_token_count ? s->cfg->device_token_list[0] : "";
    struct timeval tv;
    gettimeofday(&tv, NULL);
    /* No "mqtt" object: its presence makes the firmware choose MQTT over WebSocket. */
    json_t *j = json_pack("{s:{s:I,s:i},s:{s:s,s:s},s:{s:s,s:s}}",
                          "server_time", "timestamp", (json_int_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, "timezone_offset", 0,
                          "firmware", "version", s->cfg->firmware_version, "url", s->cfg->firmware_url,
                          "websocket", "url", url, "token", token);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static const char *mime_of(const char *path) {
    const char *dot = strrchr(path, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".json")) return "application/json";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    if (!strcmp(dot, ".png")) return "image/png";
    if (!strcmp(dot, ".wasm")) return "application/wasm";
    if (!strcmp(dot, ".ico")) return "image/x-icon";
    return "application/octet-stream";
}

static int serve_file(void *ctx, http_exchange *x, const char *path, int is_post) {
    (void)is_post;
    server *s = ctx;
    if (strstr(path, "..") || strchr(path, '\\')) return http_respond_text(x, 400, "bad path\n");
    char file[1024];
    int n = snprintf(file, sizeof file, "%s%s%s", s->cfg->web_root, path, path[strlen(path) - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof file) return http_respond_text(x, 414, "path too long\n");
    return http_serve_file(&s->router, x, file, mime_of(file));
}

static int ota_request(void *ctx, http_exchange *x, const char *path, int is_post) {
    (void)path;
    server *s = ctx;
    char device[80] = "";
    static const char *const args[] = {"device_id=", NULL};
    http_field(x->wsi, "device-id:", args, device, sizeof device);
    log_event(&s->log, LOG_INFO, "ota.request", json_pack("{s:s,s:s%}", "method", is_post ? "POST" : "GET", "device_id",
                                                          device, strnlen(device, 64)));
    if (is_post) return 0;  /* answer once the body is in */
    char *body = ota_body(s, x->wsi);
    return body ? http_respond(x, 200, "application/json", body, strlen(body)) : -1;
}

static int ota_body_done(void *ctx, http_exchange *x) {
    char *body = ota_body(ctx, x->wsi);
    return body ? http_respond(x, 200, "application/json", body, strlen(body)) : -1;
}

void http_routes_register(server *s) {
    http_router_add(&s->router, &(http_route){"/xiaozhi/ota/", "/xiaozhi/ota", ota_request, ota_body_done, s});
    http_router_add(&s->router, &(http_route){NULL, NULL, serve_file, NULL, s});
}
