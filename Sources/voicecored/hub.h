/* The hub: the Coordinator embedded through include/voicecore.h. The device and worker modules
 * hand it their events (it is their event_sink); it hands each to the core and, once the core's
 * handle has returned, carries out the effects on devices (device_session.h), workers
 * (worker_link.h) and timers, and writes the core's event log as JSON lines; /metrics reads the
 * counts the core keeps (hub_tallies). It is the top of the daemon's modules: it calls down into
 * devices and workers, which reach it only through the sink it registered with them. */
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

/* What the hub works with; all outlive it. */
typedef struct hub_env {
    uv_loop_t *loop;
    const config *cfg;
    logger *log;
    metrics *metrics;
    devices *devices;
    workers *workers;
} hub_env;

/* NULL with a message in error when the Coordinator refuses its config. Registers the hub as the
 * event sink of env's devices and workers; hub_free unregisters it. */
hub *hub_new(const hub_env *env, const char *coordinator_config, char *error, size_t error_len);
void hub_free(hub *h);
/* One event (JSON object) with an optional binary payload, and what caused it. Returns 0, or <0
 * when the core rejected the event, with its message in error. An event that arrives while the
 * effects of another are being carried out runs after them: the core is never re-entered. */
int hub_event(hub *h, const event_origin *origin, const char *json, size_t len, const void *data, size_t data_len,
              char *error, size_t error_len);
size_t hub_timers_pending(hub *h);
/* The core's health verdict now (vc_coordinator_health, docs/coordinator.md "Health"): 1 when
 * degraded, 0 when ok, <0 when there is no Coordinator. *json (not NUL-terminated, *len bytes)
 * is owned by the core and valid until the next hub call. */
int hub_health(hub *h, const char **json, size_t *len);
/* Adds the core's counts (vc_coordinator_tally: log entries by kind, worker.* entries, turns by
 * outcome, turn.mark stage histograms) into m's tables, which start zeroed. <0 without a core. */
int hub_tallies(hub *h, metrics_core *m);

#endif
