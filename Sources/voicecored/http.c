#include "http.h"
#include "http_request.h"
#include <stdlib.h>
#include <string.h>

int http_router_add(http_router *r, const http_route *route) {
    if (!route->path) {
        r->fallback = *route;
        return 0;
    }
    if (r->count >= HTTP_MAX_ROUTES) return -1;
    r->routes[r->count++] = *route;
    return 0;
}

static const http_route *route_of(const http_router *r, const char *path) {
    for (int i = 0; i < r->count; i++) {
        const http_route *route = &r->routes[i];
        if (!strcmp(path, route->path) || (route->alt_path && !strcmp(path, route->alt_path))) return route;
    }
    return &r->fallback;
}

int http_respond(http_exchange *x, int status, const char *content_type, char *body, size_t len) {
    if (!body) return -1;
    uint8_t headers[LWS_PRE + 1024];
    uint8_t *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    free(x->response);
    x->response = body;
    x->response_len = len;
    if (lws_add_http_common_headers(x->wsi, (unsigned int)status, content_type, len, &p, end)) return -1;
    if (lws_add_http_header_by_token(x->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (lws_finalize_write_http_header(x->wsi, start, &p, end)) return -1;
    lws_callback_on_writable(x->wsi);
    return 0;
}

int http_respond_text(http_exchange *x, int status, const char *text) {
    char *body = strdup(text);
    return body ? http_respond(x, status, "text/plain; charset=utf-8", body, strlen(body)) : -1;
}

int http_serve_file(const http_router *r, http_exchange *x, const char *file, const char *mime) {
    int rc = lws_serve_http_file(x->wsi, file, mime, NULL, 0);
    if (rc < 0) return -1;
    return rc > 0 ? r->completed(r->completed_ctx, x->wsi) : 0;
}

int http_header(struct lws *wsi, enum lws_token_indexes token, char *out, int len) {
    int n = lws_hdr_copy(wsi, out, len, token);
    if (n < 0) out[0] = 0;
    return n;
}

/* A header unknown to lws, or its query-parameter spelling for clients (browsers) that cannot
 * set WebSocket headers. */
int http_field(struct lws *wsi, const char *header_name, const char *const *args, char *out, int len) {
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

int http_presented_token(struct lws *wsi, char *out, size_t len) {
    char auth[600];
    int n = http_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof auth);
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

int http_on_request(http_router *r, http_exchange *x, struct lws *wsi, const char *path) {
    x->wsi = wsi;
    x->route = NULL;
    x->body_in = 0;
    free(x->body);
    x->body = NULL;
    int is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    const http_route *route = route_of(r, path);
    if (is_post && !route->on_body) return http_respond_text(x, 405, "method not allowed\n");
    if (!route->on_request) return http_respond_text(x, 404, "not found\n");
    x->route = route;
    return route->on_request(route->ctx, x, path, is_post);
}

int http_on_body(http_exchange *x, const void *in, size_t len) {
    if (len > HTTP_MAX_BODY - x->body_in) {
        x->route = NULL;
        lws_return_http_status(x->wsi, 413, "request body too large");
        return -1;
    }
    char *grown = realloc(x->body, x->body_in + len + 1);
    if (!grown) return -1;
    x->body = grown;
    if (len) memcpy(x->body + x->body_in, in, len);
    x->body_in += len;
    x->body[x->body_in] = 0;
    return 0;
}

int http_on_body_done(http_router *r, http_exchange *x) {
    (void)r;
    if (!x->route || !x->route->on_body) return http_respond_text(x, 405, "method not allowed\n");
    return x->route->on_body(x->route->ctx, x);
}

int http_on_writeable(http_router *r, http_exchange *x) {
    if (!x->response) return 0;
    /* lws_write needs LWS_PRE bytes of headroom before the body. */
    uint8_t *buf = malloc(LWS_PRE + x->response_len + 1);
    if (!buf) return -1;
    memcpy(buf + LWS_PRE, x->response, x->response_len);
    int n = lws_write(x->wsi, buf + LWS_PRE, x->response_len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    free(x->response);
    x->response = NULL;
    if (n < 0) return -1;
    return r->completed(r->completed_ctx, x->wsi);
}

void http_exchange_free(http_exchange *x) {
    free(x->response);
    x->response = NULL;
    free(x->body);
    x->body = NULL;
    x->body_in = 0;
}

int http_refuse_upgrade(struct lws *wsi, int status, const char *why) {
    static const char *const reasons[] = {[400] = "Bad Request", [401] = "Unauthorized", [404] = "Not Found", [503] = "Service Unavailable"};
    const char *reason = status > 0 && status < (int)(sizeof reasons / sizeof *reasons) && reasons[status] ? reasons[status] : "Refused";
    char body[256];
    int body_len = snprintf(body, sizeof body, "%s\n", why);
    uint8_t buf[LWS_PRE + 768];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n%s"
                     "connection: close\r\n\r\n%s",
                     status, reason, body_len, status == 401 ? "www-authenticate: Bearer\r\n" : "", body);
    if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n) return -1;
    return 1;
}
