/* Workers: one dial-in worker per WebSocket on /worker (an endpoint of the transport). Its JSON
 * control messages are parsed and its binary job-audio frames unwrapped and handed to the hub as
 * events; the Coordinator validates them and checks job ownership (a rejection is answered to the
 * worker with the core's message). The hub's effects come back as worker_send and worker_close. A
 * link's state lives in its worker_link (worker_link.c), created when its WebSocket opens and
 * freed when it closes. */
#ifndef VOICECORED_WORKER_LINK_H
#define VOICECORED_WORKER_LINK_H
#include "config.h"
#include "event_sink.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "transport.h"
#include <jansson.h>

typedef struct workers {
    transport *t;
    const config *cfg;
    logger *log;
    metrics *metrics;
    idmap links;                 /* worker id → worker_link */
    uint64_t next_id;
    event_sink sink;             /* where its events go (the hub) */
} workers;


/* Registers the /worker endpoint with t. */
void workers_init(workers *w, transport *t, const config *cfg, logger *log, metrics *m);
void workers_set_sink(workers *w, event_sink sink);
void workers_free(workers *w);
size_t workers_count(const workers *w);

/* A JSON message; or, for an `audio` message with a payload, one binary frame with the job header.
 * cause: the event whose effect it is (the hops it completes are traced from it). */
void worker_send(workers *w, uint64_t worker, json_t *message, const void *audio, size_t audio_len, const event_origin *cause);
void worker_close(workers *w, uint64_t worker, const char *reason);

#endif
