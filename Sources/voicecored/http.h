/* Plain HTTP on the daemon's port: the route table modules register their paths in, the
 * responses they answer with, and the request headers they read. The transport (transport.c)
 * hands every HTTP callback of libwebsockets to the functions at the end of this header; it keeps
 * one http_exchange per connection. Knows nothing of what a route serves. */
#ifndef VOICECORED_HTTP_H
#define VOICECORED_HTTP_H
#include <libwebsockets.h>
#include <stddef.h>

/* One request on a connection and the response being written to it. */
typedef struct http_exchange {
    struct lws *wsi;
    const struct http_route *route;   /* the route the request went to, or NULL */
    size_t body_in;                    /* bytes of request body read so far */
    char *body;                        /* those bytes, NUL-terminated (malloc'd), or NULL */
    char *response;                    /* the body being written (malloc'd), or NULL */
    size_t response_len;
} http_exchange;

/* A path a module serves. on_request is called once the request's headers are complete: it
 * answers (http_respond, http_serve_file) or, for a POST, returns 0 and answers from on_body once
 * the body is in (x->body, x->body_in bytes, at most HTTP_MAX_BODY). A route without on_body refuses POST (405). Handlers return 0, or -1 to close
 * the connection; what http_respond and http_serve_file return is such a value. */
typedef struct http_route {
    const char *path;                  /* exact; NULL: the route for every path no other takes */
    const char *alt_path;              /* another spelling of it, or NULL */
    int (*on_request)(void *ctx, http_exchange *x, const char *path, int is_post);
    int (*on_body)(void *ctx, http_exchange *x);
    void *ctx;
} http_route;

#define HTTP_MAX_ROUTES 8
#define HTTP_MAX_BODY 65536            /* a request body beyond this is refused (413) */

/* The routes, and what the transport does when a response is complete (keep-alive bookkeeping):
 * it returns -1 to close the connection, 0 to keep it for its next request. */
typedef struct http_router {
    http_route routes[HTTP_MAX_ROUTES];
    int count;
    http_route fallback;               /* path NULL; on_request NULL: 404 */
    int (*completed)(void *ctx, struct lws *wsi);
    void *completed_ctx;
} http_router;

/* Adds a route (copied). Returns 0, or -1 when the table is full. */
int http_router_add(http_router *r, const http_route *route);

/* Answers with body (malloc'd, owned from here on; NULL fails the connection) of len bytes. */
int http_respond(http_exchange *x, int status, const char *content_type, char *body, size_t len);
int http_respond_text(http_exchange *x, int status, const char *text);
/* Answers with the file at path (lws streams it); the router's completion follows when it is out. */
int http_serve_file(const http_router *r, http_exchange *x, const char *file, const char *mime);

/* Request headers. http_header: a header lws knows (-1 and "" when absent). http_field: a header
 * unknown to lws (header_name with its colon, lower case), or its query-parameter spellings
 * (args: "name=" entries, NULL-terminated) for clients that cannot set headers; -1 when absent, -2
 * when longer than out. http_presented_token: the bearer token of Authorization, or of the
 * token= / access_token= query parameter; its length or -1. */
int http_header(struct lws *wsi, enum lws_token_indexes token, char *out, int len);
int http_field(struct lws *wsi, const char *header_name, const char *const *args, char *out, int len);
int http_presented_token(struct lws *wsi, char *out, size_t len);

/* The transport's side: the lws callbacks of one connection. */
int http_on_request(http_router *r, http_exchange *x, struct lws *wsi, const char *path);
int http_on_body(http_exchange *x, const void *in, size_t len);
int http_on_body_done(http_router *r, http_exchange *x);
int http_on_writeable(http_router *r, http_exchange *x);
void http_exchange_free(http_exchange *x);
/* Refuses a WebSocket upgrade with status and why, written whole as HTTP/1.1 (lws would answer
 * in HTTP/1.0, which WebSocket clients reject). Returns 1 (the refusal is out), or -1. */
int http_refuse_upgrade(struct lws *wsi, int status, const char *why);

#endif
