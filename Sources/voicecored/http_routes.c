#include "http_routes.h"
#include "http.h"
#include "monotonic.h"
#include "transport.h"
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static char *ota_body(transport *s, struct lws *wsi) {
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
    transport *s = ctx;
    if (strstr(path, "..") || strchr(path, '\\')) return http_respond_text(x, 400, "bad path\n");
    char file[1024];
    int n = snprintf(file, sizeof file, "%s%s%s", s->cfg->web_root, path, path[strlen(path) - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof file) return http_respond_text(x, 414, "path too long\n");
    return http_serve_file(&s->router, x, file, mime_of(file));
}

/* The language an OTA request reports: the POSTed system info's "language" (the firmware's
 * GetSystemInfoJson), else the first tag of Accept-Language; "" when neither. Only moved here: the
 * core validates it. */
static void ota_language(http_exchange *x, char *out, size_t len) {
    *out = 0;
    if (x->body && x->body_len) {
        json_t *info = json_loadb(x->body, x->body_len, 0, NULL);
        json_t *language = json_object_get(info, "language");
        if (json_is_string(language) && json_string_length(language) > 0)
            snprintf(out, len, "%.*s", (int)json_string_length(language), json_string_value(language));
        json_decref(info);
        if (*out) return;
    }
    char accept[256];
    if (http_header(x->wsi, WSI_TOKEN_HTTP_ACCEPT_LANGUAGE, accept, sizeof accept) <= 0) return;
    const char *tag = accept + strspn(accept, " \t");
    snprintf(out, len, "%.*s", (int)strcspn(tag, ",; \t"), tag);
}

/* Hands the hub the device's language, when the request names both. */
static void ota_report_language(http_routes *r, http_exchange *x) {
    char device[80] = "";
    static const char *const args[] = {"device_id=", NULL};
    if (http_field(x->wsi, "device-id:", args, device, sizeof device) <= 0) return;
    char language[128];
    ota_language(x, language, sizeof language);
    if (!*language) return;
    event_origin origin = {monotonic_us(), 0};
    vc_event e = {.kind = VC_EVENT_DEVICE_LANGUAGE, .device_id = device, .device_id_len = strlen(device),
                  .body = language, .body_len = strlen(language)};
    int rc = event_sink_deliver(&r->sink, &origin, &e);
    if (rc < 0)  /* the core logged why (input.rejected, with the tag); nobody's language changed */
        log_event(r->transport->log, LOG_WARN, "ota.language_rejected",
                  json_pack("{s:s%,s:i}", "device_id", device, strnlen(device, 64), "status", rc));
}

static int ota_request(void *ctx, http_exchange *x, const char *path, int is_post) {
    (void)path;
    http_routes *r = ctx;
    transport *s = r->transport;
    char device[80] = "";
    static const char *const args[] = {"device_id=", NULL};
    http_field(x->wsi, "device-id:", args, device, sizeof device);
    log_event(s->log, LOG_INFO, "ota.request", json_pack("{s:s,s:s%}", "method", is_post ? "POST" : "GET", "device_id",
                                                          device, strnlen(device, 64)));
    if (is_post) return 0;  /* answer once the body is in */
    ota_report_language(r, x);
    char *body = ota_body(s, x->wsi);
    return body ? http_respond(x, 200, "application/json", body, strlen(body)) : -1;
}

static int ota_body_done(void *ctx, http_exchange *x) {
    http_routes *r = ctx;
    ota_report_language(r, x);
    char *body = ota_body(r->transport, x->wsi);
    return body ? http_respond(x, 200, "application/json", body, strlen(body)) : -1;
}

void http_routes_register(http_routes *r, transport *t) {
    r->transport = t;
    transport_add_route(t, &(http_route){.path = "/xiaozhi/ota/", .alt_path = "/xiaozhi/ota", .on_request = ota_request,
                                         .on_body = ota_body_done, .ctx = r});
    transport_add_route(t, &(http_route){.on_request = serve_file, .ctx = t});
}

void http_routes_set_sink(http_routes *r, event_sink sink) { r->sink = sink; }
