/* Plain HTTP on the daemon's port: OTA for devices, /healthz, /metrics, the browser page, and
 * the admission check of WebSocket upgrades (tokens, limits, identifiers). */
#include "hub.h"
#include "http_request.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

enum { ROUTE_NONE, ROUTE_OTA, ROUTE_HEALTH, ROUTE_METRICS, ROUTE_FILE };

#define OTA_MAX_BODY 65536

static int respond(conn *c, int status, const char *content_type, char *body, size_t len) {
    uint8_t headers[LWS_PRE + 1024];
    uint8_t *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    free(c->http_response);
    c->http_response = body;
    c->http_response_len = len;
    if (lws_add_http_common_headers(c->wsi, (unsigned int)status, content_type, len, &p, end)) return -1;
    if (lws_add_http_header_by_token(c->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (lws_finalize_write_http_header(c->wsi, start, &p, end)) return -1;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static int respond_text(conn *c, int status, const char *text) {
    char *body = strdup(text);
    return body ? respond(c, status, "text/plain; charset=utf-8", body, strlen(body)) : -1;
}

static int header(struct lws *wsi, enum lws_token_indexes token, char *out, int len) {
    int n = lws_hdr_copy(wsi, out, len, token);
    if (n < 0) out[0] = 0;
    return n;
}

/* A header unknown to lws, or its query-parameter spelling for clients (browsers) that cannot
 * set WebSocket headers. */
static int field(struct lws *wsi, const char *header_name, const char *const *args, char *out, int len) {
    char buf[512];
    int total = lws_hdr_custom_length(wsi, header_name, (int)strlen(header_name));
    if (total >= len) return -2;
    int n = lws_hdr_custom_copy(wsi, out, len, header_name, (int)strlen(header_name));
    if (n > 0) return n;
    for (; *args; args++) {
        const char *v = lws_get_urlarg_by_name(wsi, *args, buf, sizeof buf);
        if (v) {
            size_t l = strlen(v);
            if ((int)l >= len) return -2;
            memcpy(out, v, l + 1);
            return (int)l;
        }
    }
    out[0] = 0;
    return -1;
}

static int presented_token(struct lws *wsi, char *out, size_t len) {
    char auth[600];
    int n = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof auth);
    if (n > 0) return bearer_token(auth, (size_t)n, out, len);
    static const char *const args[] = {"token=", "access_token=", NULL};
    char buf[600];
    for (const char *const *a = args; *a; a++) {
        const char *v = lws_get_urlarg_by_name(wsi, *a, buf, sizeof buf);
        if (v && *v && strlen(v) < len) {
            strcpy(out, v);
            return (int)strlen(out);
        }
    }
    return -1;
}

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
    int have_token = presented_token(wsi, token, sizeof token) > 0;
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
    int n = field(wsi, "protocol-version:", version_args, value, sizeof value);
    r->protocol_version = 1;
    if (n >= 0) {
        r->protocol_version = protocol_version(value, (size_t)n);
        if (r->protocol_version < 0) {
            r->status = 400;
            r->why = "Protocol-Version must be 1, 2 or 3";
            return;
        }
    }
    n = field(wsi, "device-id:", device_args, r->device_id, sizeof r->device_id);
    if (n == -2 || (n >= 0 && !valid_identifier(r->device_id, (size_t)n))) {
        r->status = 400;
        r->why = "Device-Id must be 1-64 characters of A-Z a-z 0-9 : . _ -";
        return;
    }
    n = field(wsi, "client-id:", client_args, r->client_id, sizeof r->client_id);
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
    /* lws would answer an upgrade request in HTTP/1.0, which WebSocket clients reject; the
     * refusal is written whole, by hand, as HTTP/1.1. */
    static const char *const reasons[] = {[400] = "Bad Request", [401] = "Unauthorized", [404] = "Not Found", [503] = "Service Unavailable"};
    char body[256];
    int body_len = snprintf(body, sizeof body, "%s\n", r.why);
    uint8_t buf[LWS_PRE + 768];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n%s"
                     "connection: close\r\n\r\n%s",
                     r.status, reasons[r.status] ? reasons[r.status] : "Refused", body_len,
                     r.status == 401 ? "www-authenticate: Bearer\r\n" : "", body);
    if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n) return -1;
    return 1;
}

static char *ota_body(server *s, struct lws *wsi) {
    char url[512];
    if (*s->cfg->public_ws_url) {
        snprintf(url, sizeof url, "%s", s->cfg->public_ws_url);
    } else {
        char host[256];
        if (header(wsi, WSI_TOKEN_HOST, host, sizeof host) <= 0) snprintf(host, sizeof host, "127.0.0.1:%d", s->port);
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

static int serve_file(server *s, conn *c, const char *path) {
    if (strstr(path, "..") || strchr(path, '\\')) return respond_text(c, 400, "bad path\n");
    char file[1024];
    int n = snprintf(file, sizeof file, "%s%s%s", s->cfg->web_root, path, path[strlen(path) - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof file) return respond_text(c, 414, "path too long\n");
    int rc = lws_serve_http_file(c->wsi, file, mime_of(file), NULL, 0);
    if (rc < 0) return -1;
    return rc > 0 ? server_http_completed(s, c->wsi) : 0;
}

/* The core's health verdict (hub_health), parsed for /healthz; NULL once the core is gone. */
static json_t *core_health(server *s, int *degraded) {
    const char *text = NULL;
    size_t len = 0;
    int rc = hub_health(s->hub, &text, &len);
    *degraded = rc == 1;
    return rc < 0 ? NULL : json_loadb(text, len, 0, NULL);
}

int http_route_request(server *s, struct lws *wsi, const char *path) {
    conn *c = lws_get_opaque_user_data(wsi);
    if (!c) c = conn_new(s, wsi, CONN_HTTP, 0, 0);
    if (!c) return -1;
    s->metrics.http_requests++;
    c->http_route = ROUTE_NONE;
    c->http_body_in = 0;
    int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    if (!strcmp(path, "/xiaozhi/ota/") || !strcmp(path, "/xiaozhi/ota")) {
        c->http_route = ROUTE_OTA;
        char device[80] = "";
        static const char *const args[] = {"device_id=", NULL};
        field(wsi, "device-id:", args, device, sizeof device);
        log_event(&s->log, LOG_INFO, "ota.request", json_pack("{s:s,s:s%}", "method", is_post ? "POST" : "GET", "device_id",
                                                              device, strnlen(device, 64)));
        if (is_post) return 0;  /* answer once the body is in */
        char *body = ota_body(s, wsi);
        return body ? respond(c, 200, "application/json", body, strlen(body)) : -1;
    }
    if (is_post) return respond_text(c, 405, "method not allowed\n");
    if (!strcmp(path, "/healthz")) {
        c->http_route = ROUTE_HEALTH;
        /* The core decides health per kind (docs/coordinator.md, "Health"); degraded -> 503 with
         * the reasons. */
        int degraded = 0;
        json_t *core = core_health(s, &degraded);
        json_t *j = json_pack("{s:s,s:I,s:I}", "status", s->draining ? "draining" : degraded ? "degraded" : "ok", "devices",
                              (json_int_t)s->devices.count, "workers", (json_int_t)s->workers.count);
        if (core) {
            json_object_set(j, "reasons", json_object_get(core, "reasons"));
            json_object_set(j, "kinds", json_object_get(core, "kinds"));
            json_decref(core);
        }
        char *body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        return body ? respond(c, s->draining || degraded ? 503 : 200, "application/json", body, strlen(body)) : -1;
    }
    if (!strcmp(path, "/metrics")) {
        c->http_route = ROUTE_METRICS;
        metrics_gauges g = server_gauges(s);
        hub_core_metrics(s->hub, &g.core);
        size_t len = 0;
        char *body = metrics_render(&s->metrics, &g, &len);
        return body ? respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len) : -1;
    }
    c->http_route = ROUTE_FILE;
    return serve_file(s, c, path);
}

int http_route_body(server *s, conn *c, const void *in, size_t len) {
    (void)s;
    (void)in;
    c->http_body_in += len;
    if (c->http_body_in > OTA_MAX_BODY) {
        c->http_route = ROUTE_NONE;
        lws_return_http_status(c->wsi, 413, "request body too large");
        return -1;
    }
    return 0;
}

int http_route_body_done(server *s, conn *c) {
    if (c->http_route != ROUTE_OTA) return respond_text(c, 405, "method not allowed\n");
    char *body = ota_body(s, c->wsi);
    return body ? respond(c, 200, "application/json", body, strlen(body)) : -1;
}

int http_route_writeable(server *s, conn *c) {
    if (!c->http_response) return 0;
    /* lws_write needs LWS_PRE bytes of headroom before the body. */
    uint8_t *buf = malloc(LWS_PRE + c->http_response_len + 1);
    if (!buf) return -1;
    memcpy(buf + LWS_PRE, c->http_response, c->http_response_len);
    int n = lws_write(c->wsi, buf + LWS_PRE, c->http_response_len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    free(c->http_response);
    c->http_response = NULL;
    if (n < 0) return -1;
    return server_http_completed(s, c->wsi);
}
