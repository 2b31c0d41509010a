/* The Coordinator embedded through include/voicecore.h: network input becomes events, the
 * resulting effects are carried out on devices, workers and timers, and the core's event log is
 * written as JSON lines and counted into /metrics. */
#ifndef VOICECORED_HUB_H
#define VOICECORED_HUB_H
#include <stddef.h>
#include <stdint.h>

typedef struct server server;
typedef struct hub hub;

/* NULL with a message in error when the Coordinator refuses its config. */
hub *hub_new(server *s, const char *coordinator_config, char *error, size_t error_len);
void hub_free(hub *h);
/* 1 when this build embeds the Coordinator. */
int hub_has_coordinator(void);
/* One event (JSON object) with an optional binary payload. Returns 0, or <0 when the core
 * rejected the event, with its message in error. */
int hub_event(hub *h, const char *json, size_t len, const void *data, size_t data_len, char *error, size_t error_len);
size_t hub_timers_pending(hub *h);

#endif
