/* Workers: one dial-in worker per WebSocket on /worker (an endpoint of the transport). Its text
 * frames are handed to the hub as they arrived and its binary job-audio frames unwrapped, as typed
 * events; the Coordinator parses and validates them, checks job ownership and answers what it
 * rejects. The hub's effects come back as worker_send_text, worker_send_audio and worker_close. A
 * link's state lives in its worker_link (worker_link.c), created when its WebSocket opens and
 * freed when it closes; its id is the worker id the core knows it by. */
#ifndef VOICECORED_WORKER_LINK_H
#define VOICECORED_WORKER_LINK_H
#include "config.h"
#include "event_sink.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "transport.h"

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

/* A text frame the core made, sent as it is. hop tags it as a traced hop of session's turn
 * (hub_latency.h; HUB_HOP_NONE: none); cause: the event whose effect it is. */
void worker_send_text(workers *w, uint64_t worker, const char *text, size_t len, hub_hop hop, uint64_t session, int64_t turn,
                      const event_origin *cause);
/* A job's ASR input: one binary frame with the job header. */
void worker_send_audio(workers *w, uint64_t worker, uint64_t job, const void *pcm, size_t len, const event_origin *cause);
/* code: the WebSocket close code the core chose (0: 1008). */
void worker_close(workers *w, uint64_t worker, int code, const char *reason);

#endif
