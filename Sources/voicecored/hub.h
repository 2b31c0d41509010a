/* The Coordinator embedded through include/voicecore.h, and the only module that calls it:
 * network input becomes typed events (vc_event), the resulting effects (vc_effect) are carried
 * out on devices, workers and timers, and the core's event log is written as JSON lines; /metrics
 * and /healthz read the counts and the verdict the core keeps (hub_health, hub_core_metrics).
 * Ids are the daemon's connection numbers, the core's ids too. */
#ifndef VOICECORED_HUB_H
#define VOICECORED_HUB_H
#include <stddef.h>
#include <stdint.h>
#include "metrics.h"

typedef struct server server;
typedef struct hub hub;

/* NULL with a message in error when the Coordinator refuses its config. */
hub *hub_new(server *s, const char *coordinator_config, char *error, size_t error_len);
void hub_free(hub *h);

/* Events. Each returns 0, or <0 when the core rejected it (a rejected message or audio from a
 * peer is answered to that peer by the core's own effects; the daemon only counts it). Bytes are
 * the caller's and only read during the call. */
int hub_device_connected(hub *h, uint64_t session, const char *device_id, const char *client_id, int protocol_version,
                         int authenticated);
/* The device's text frame as it arrived; the core parses and validates it. */
int hub_device_message(hub *h, uint64_t session, const void *text, size_t len);
/* PCM16LE mono 16 kHz. */
int hub_device_audio(hub *h, uint64_t session, const int16_t *pcm, size_t samples);
int hub_device_playback_done(hub *h, uint64_t session, int64_t turn);
int hub_device_disconnected(hub *h, uint64_t session, const char *reason);
int hub_worker_connected(hub *h, uint64_t worker);
/* The worker's text frame as it arrived. */
int hub_worker_message(hub *h, uint64_t worker, const void *text, size_t len);
/* A job's PCM16LE from a worker's binary frame. */
int hub_worker_audio(hub *h, uint64_t worker, uint64_t job, int last, const void *pcm, size_t len);
int hub_worker_disconnected(hub *h, uint64_t worker);

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
