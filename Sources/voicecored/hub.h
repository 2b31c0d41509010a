/* The hub: the Coordinator embedded through include/voicecore.h, and the only module that calls
 * it. The device and worker modules hand it their typed events (vc_event: it is their
 * event_sink); it hands each to the core and, once the core's handle has returned, carries out the
 * typed effects (vc_effect) on devices (device_session.h), workers (worker_link.h) and timers, and
 * writes the core's event log as JSON lines; /metrics and /healthz read the counters and the
 * verdict the core keeps (hub_core_metrics, hub_health). Session and worker ids are the modules'
 * connection numbers, the core's ids too. It is the top of the daemon's modules: it calls down
 * into devices and workers, which reach it only through the sink it registered with them. */
#ifndef VOICECORED_HUB_H
#define VOICECORED_HUB_H
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "event_sink.h"
#include "log.h"
#include "metrics.h"
#include <uv.h>

typedef struct hub hub;
typedef struct devices devices;     /* device_session.h */
typedef struct workers workers;     /* worker_link.h */
typedef struct admin_api admin_api; /* admin_api.h */
typedef struct http_routes http_routes; /* http_routes.h */

/* What the hub works with; all outlive it. */
typedef struct hub_env {
    uv_loop_t *loop;
    const config *cfg;
    logger *log;
    metrics *metrics;
    devices *devices;
    workers *workers;
    admin_api *admin;           /* the admin HTTP API, or NULL */
    http_routes *routes;            /* OTA: the languages devices report; may be NULL */
} hub_env;

/* NULL with a message in error when the Coordinator refuses its config. Registers the hub as the
 * event sink of env's devices, workers, admin API and HTTP routes; hub_free unregisters it. */
hub *hub_new(const hub_env *env, const char *coordinator_config, char *error, size_t error_len);
void hub_free(hub *h);
/* One event and what caused it (the sink's entry point; the hub's own timers call it too).
 * Returns 0, or the core's status (<0) when it rejected the event: the core logged it as
 * input.rejected and answered a rejected message or audio to its peer with its own effects; the
 * hub counts it (voicecored_errors_total). An event that arrives while the effects of another are
 * being carried out runs after them: the core is never re-entered. The event's bytes are the
 * caller's and only read during the call. */
int hub_event(hub *h, const event_origin *origin, const vc_event *event);
size_t hub_timers_pending(hub *h);
/* The core's health verdict now (vc_coordinator_health, docs/coordinator.md "Health"): 1 when
 * degraded, 0 when ok, <0 when there is no Coordinator. *json (not NUL-terminated, *len bytes)
 * is owned by the core and valid until the next hub call. */
int hub_health(hub *h, const char **json, size_t *len);
/* Fills m with the core's counters and per-kind verdicts (vc_coordinator_counters) and its counts
 * (vc_coordinator_tally: log entries by kind, worker.* entries, turns by outcome, turn.mark stage
 * histograms); m->present is set. <0 without a core (m is then zeroed). */
int hub_core_metrics(hub *h, metrics_core *m);

#endif
