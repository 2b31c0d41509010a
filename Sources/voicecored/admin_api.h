/* The operators' admin HTTP API on /api/v1/ (docs/admin-api.md). The daemon only moves bytes:
 * it authenticates a request (Authorization: Bearer <admin_token>), reads its body (at most
 * ADMIN_MAX_BODY bytes) and parses it as JSON, then hands it to the Coordinator as one
 * `admin.request` event {request, method, path, body}; the core's `http.respond` effect
 * {request, status, body} is the answer. A request whose connection closed before its answer is
 * forgotten, and its answer dropped. Every answer is JSON; every refusal is {"error": "..."}. */
#ifndef VOICECORED_ADMIN_API_H
#define VOICECORED_ADMIN_API_H
#include <jansson.h>
#include <stddef.h>

#define ADMIN_MAX_BODY 65536

typedef struct server server;
typedef struct conn conn;
typedef struct admin_api admin_api;   /* the requests waiting for the core's answer */
typedef struct admin_call admin_call; /* one request on its HTTP connection */

/* 1 when path belongs to the admin API ("/api/v1" or below). */
int admin_api_is_path(const char *path);

/* LWS_CALLBACK_HTTP on an admin path: authenticates, then hands a GET to the core at once and
 * reads a POST's body first. Returns what the lws callback returns. */
int admin_api_request(server *s, conn *c, const char *path, int is_post);
/* LWS_CALLBACK_HTTP_BODY / _BODY_COMPLETION / HTTP_WRITEABLE of a connection with c->admin set. */
int admin_api_body(server *s, conn *c, const void *in, size_t len);
int admin_api_body_done(server *s, conn *c);
int admin_api_writeable(server *s, conn *c);

/* The core's `http.respond` effect (hub.c). */
void admin_api_respond(server *s, json_t *effect);

/* The connection is going: its request, if any, is forgotten (server.c, conn_free). */
void admin_api_forget(conn *c);
/* Frees what is left at shutdown. */
void admin_api_free(server *s);

#endif
