/* The operators' admin HTTP API on /api/v1/ (docs/admin-api.md), a route of the transport. The
 * daemon only moves bytes: it authenticates a request (Authorization: Bearer <admin_token>) and
 * reads its body (at most HTTP_MAX_BODY bytes), then hands it to the hub as one typed event
 * (VC_EVENT_ADMIN_REQUEST: its id, method, path and the body as it arrived); the core parses and
 * validates it and answers with a VC_EFFECT_HTTP_RESPOND (status, JSON body), which the hub
 * carries out as admin_api_respond. A request whose connection closed before its answer is
 * forgotten, and its answer dropped. Every answer is JSON; every refusal is {"error": "..."}. */
#ifndef VOICECORED_ADMIN_API_H
#define VOICECORED_ADMIN_API_H
#include "config.h"
#include "event_sink.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "transport.h"

typedef struct admin_api {
    const config *cfg;
    logger *log;
    metrics *metrics;
    idmap waiting;               /* request id → its http_exchange, from the event until the answer */
    uint64_t next_id;
    event_sink sink;             /* where its events go (the hub) */
} admin_api;

/* Registers the /api/v1 route with t. */
void admin_api_init(admin_api *a, transport *t, const config *cfg, logger *log, metrics *m);
void admin_api_set_sink(admin_api *a, event_sink sink);
void admin_api_free(admin_api *a);

/* The hub's VC_EFFECT_HTTP_RESPOND: the answer (status, a JSON body of len bytes) to request. */
void admin_api_respond(admin_api *a, uint64_t request, int status, const char *body, size_t len);

#endif
