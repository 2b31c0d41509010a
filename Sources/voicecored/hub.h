/* The Coordinator embedded through include/voicecore.h: network input becomes events, the
 * resulting effects are carried out on devices, workers and timers, and the core's event log is
 * written as JSON lines; /metrics reads the counts the core keeps (hub_tallies). */
#ifndef VOICECORED_HUB_H
#define VOICECORED_HUB_H
#include <stddef.h>
#include <stdint.h>
#include "event_sink.h"
#include "metrics.h"

typedef struct server server;
typedef struct hub hub;

/* NULL with a message in error when the Coordinator refuses its config. */
hub *hub_new(server *s, const char *coordinator_config, char *error, size_t error_len);
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
