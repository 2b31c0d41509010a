#include "admin_api.h"
#include "http_request.h"
#include "hub.h"
#include "idmap.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>

struct admin_api {
    idmap waiting;               /* request id -> admin_call, from the event until the answer */
    uint64_t next_id;
};

struct admin_call {
    conn *c;
    uint64_t id;                 /* 0 until handed to the core */
    int is_post;
    char path[512];
    char *body;
    size_t body_len, body_cap;
    int too_large;
    int body_complete;           /* a GET, or a POST whose body is in: the answer may be written */
    int answered;
    int close_after;             /* the connection closes once the answer is written */
    int status;
    char *response;
    size_t response_len;
};

static admin_api *api(server *s) {
    if (!s->admin) {
        s->admin = calloc(1, sizeof *s->admin);
        if (!s->admin) return NULL;
        idmap_init(&s->admin->waiting);
        s->admin->next_id = 1;
    }
    return s->admin;
}

int admin_api_is_path(const char *path) {
    return !strcmp(path, "/api/v1") || !strncmp(path, "/api/v1/", 8);
}

static void call_free(admin_call *a) {
    if (!a) return;
    free(a->body);
    free(a->response);
    free(a);
}

/* Queues the answer; it is written from the connection's writable callback. */
static int answer(conn *c, int status, json_t *body) {
    admin_call *a = c->admin;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) return -1;
    size_t len = strlen(text);
    free(a->response);
    a->response = malloc(len + 2);
    if (!a->response) {
        free(text);
        return -1;
    }
    memcpy(a->response, text, len);
    a->response[len] = '\n';
    a->response_len = len + 1;
    free(text);
    a->status = status;
    a->answered = 1;
    /* A POST is answered once its whole body is read, even when refused before it. */
    if (a->body_complete) lws_callback_on_writable(c->wsi);
    return 0;
}

static int refuse(conn *c, int status, const char *message) {
    return answer(c, status, json_pack("{s:s}", "error", message));
}

/* Hands the request to the core; its answer may come back before this returns (hub.c runs the
 * effects at once) or later. */
static int forward(server *s, conn *c, json_t *body) {
    admin_call *a = c->admin;
    admin_api *m = api(s);
    if (!m) {
        json_decref(body);
        return refuse(c, 500, "out of memory");
    }
    a->id = m->next_id++;
    if (idmap_put(&m->waiting, a->id, a) < 0) {
        json_decref(body);
        return refuse(c, 500, "out of memory");
    }
    json_t *event = json_pack("{s:s,s:I,s:s,s:s,s:o}", "type", "admin.request", "request", (json_int_t)a->id, "method",
                              a->is_post ? "POST" : "GET", "path", a->path, "body", body ? body : json_null());
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    if (!text) return refuse(c, 500, "out of memory");
    char error[256] = "";
    s->event_origin_us = monotonic_us();
    s->event_session = 0;
    int rc = hub_event(s->hub, text, strlen(text), NULL, 0, error, sizeof error);
    free(text);
    if (rc < 0 && c->admin == a && !a->answered) {
        idmap_remove(&m->waiting, a->id);
        a->id = 0;
        return refuse(c, s->hub ? 500 : 503, *error ? error : "the request could not be handled");
    }
    return 0;
}

int admin_api_request(server *s, conn *c, const char *path, int is_post) {
    admin_api_forget(c);
    c->admin = calloc(1, sizeof *c->admin);
    if (!c->admin) return -1;
    admin_call *a = c->admin;
    a->c = c;
    a->is_post = is_post;
    /* A POST without a body (no or a zero Content-Length) gets no body callbacks. */
    char length[24];
    int declared = lws_hdr_copy(c->wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
    int chunked = lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    a->body_complete = !is_post || chunked || !declared || strtoull(length, NULL, 10) == 0;
    snprintf(a->path, sizeof a->path, "%s", path);
    log_event(&s->log, LOG_DEBUG, "admin.request", json_pack("{s:s,s:s}", "method", is_post ? "POST" : "GET", "path", a->path));
    /* A refused POST still reads its body (discarding it) and is answered once it is in. */
    if (chunked && is_post) {
        /* lws 4.1 does not hand a server chunked request bodies: refused, and the connection closed
         * (its body would be read as the next request). */
        a->close_after = 1;
        refuse(c, 411, "a Content-Length is required (chunked request bodies are not supported)");
    } else if (!*s->cfg->admin_token) {
        refuse(c, 403, "admin API disabled: start with --admin-token");
    } else {
        char header[600], token[512];
        int n = lws_hdr_copy(c->wsi, header, sizeof header, WSI_TOKEN_HTTP_AUTHORIZATION);
        if (n <= 0) {
            s->metrics.errors[ERR_UNAUTHORIZED]++;
            refuse(c, 401, "a bearer token is required (Authorization: Bearer <admin token>)");
        } else if (bearer_token(header, (size_t)n, token, sizeof token) < 0 || !tokens_equal(token, s->cfg->admin_token)) {
            s->metrics.errors[ERR_UNAUTHORIZED]++;
            refuse(c, 403, "the admin token is wrong");
        } else if (strlen(path) >= sizeof a->path) {
            refuse(c, 414, "path too long");
        }
    }
    if (a->answered) {
        log_event(&s->log, LOG_WARN, "admin.refused",
                  json_pack("{s:s,s:s,s:i}", "method", is_post ? "POST" : "GET", "path", a->path, "status", a->status));
        return 0;
    }
    if (!a->body_complete) return 0;   /* handed on once the body is in */
    return forward(s, c, NULL);
}

int admin_api_body(server *s, conn *c, const void *in, size_t len) {
    (void)s;
    admin_call *a = c->admin;
    if (a->body_complete || a->answered || a->too_large) return 0;   /* refused already: the body is read and dropped */
    if (a->body_len + len > ADMIN_MAX_BODY) {
        a->too_large = 1;
        free(a->body);
        a->body = NULL;
        a->body_len = a->body_cap = 0;
        return 0;
    }
    if (a->body_len + len > a->body_cap) {
        size_t cap = a->body_cap ? a->body_cap : 1024;
        while (cap < a->body_len + len) cap *= 2;
        char *b = realloc(a->body, cap);
        if (!b) return -1;
        a->body = b;
        a->body_cap = cap;
    }
    memcpy(a->body + a->body_len, in, len);
    a->body_len += len;
    return 0;
}

int admin_api_body_done(server *s, conn *c) {
    admin_call *a = c->admin;
    if (a->body_complete) return 0;
    a->body_complete = 1;
    if (a->answered) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (a->too_large) {
        char message[96];
        snprintf(message, sizeof message, "request body too large (at most %d bytes)", ADMIN_MAX_BODY);
        return refuse(c, 413, message);
    }
    json_t *body = NULL;
    if (a->body_len > 0) {
        json_error_t err;
        body = json_loadb(a->body, a->body_len, JSON_REJECT_DUPLICATES, &err);
        if (!body) {
            char message[300];
            snprintf(message, sizeof message, "malformed JSON body: %s (line %d, column %d)", err.text, err.line, err.column);
            return refuse(c, 400, message);
        }
    }
    return forward(s, c, body);
}


/* Writes the answer once the core gave it; a connection whose request waits has nothing to write. */
int admin_api_writeable(server *s, conn *c) {
    admin_call *a = c->admin;
    if (!a->answered || !a->body_complete || !a->response) return 0;
    uint8_t headers[LWS_PRE + 1024];
    uint8_t *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    if (lws_add_http_common_headers(c->wsi, (unsigned int)a->status, "application/json", a->response_len, &p, end)) return -1;
    if (lws_add_http_header_by_token(c->wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p, end)) return -1;
    if (a->status == 401 &&
        lws_add_http_header_by_token(c->wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE, (const unsigned char *)"Bearer", 6, &p, end))
        return -1;
    if (lws_finalize_write_http_header(c->wsi, start, &p, end)) return -1;
    uint8_t *buf = malloc(LWS_PRE + a->response_len);
    if (!buf) return -1;
    memcpy(buf + LWS_PRE, a->response, a->response_len);
    int n = lws_write(c->wsi, buf + LWS_PRE, a->response_len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    int close_after = a->close_after;
    admin_api_forget(c);
    if (n < 0 || close_after) return -1;
    return server_http_completed(s, c->wsi);
}

void admin_api_respond(server *s, json_t *effect) {
    json_t *id = json_object_get(effect, "request");
    json_t *status = json_object_get(effect, "status");
    admin_call *a = s->admin && json_is_integer(id) ? idmap_get(&s->admin->waiting, (uint64_t)json_integer_value(id)) : NULL;
    if (!a) {
        /* Its connection closed before the answer. */
        log_event(&s->log, LOG_INFO, "admin.dropped", json_pack("{s:O?,s:O?}", "request", id, "status", status));
        return;
    }
    idmap_remove(&s->admin->waiting, a->id);
    a->id = 0;
    json_t *body = json_object_get(effect, "body");
    int code = json_is_integer(status) ? (int)json_integer_value(status) : 500;
    if (code < 200 || code > 599) code = 500;
    answer(a->c, code, body ? json_incref(body) : json_object());
}

void admin_api_forget(conn *c) {
    admin_call *a = c->admin;
    if (!a) return;
    if (a->id && c->srv->admin) idmap_remove(&c->srv->admin->waiting, a->id);
    c->admin = NULL;
    call_free(a);
}

void admin_api_free(server *s) {
    if (!s->admin) return;
    idmap_free(&s->admin->waiting);
    free(s->admin);
    s->admin = NULL;
}
