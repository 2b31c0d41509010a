/* The daemon's status routes: /healthz (the core's health verdict per worker kind, draining,
 * the number of devices and workers; 503 when degraded or draining) and /metrics (Prometheus
 * text: the daemon's counters, gauges and histograms and the counts the core keeps). */
#ifndef VOICECORED_STATUS_H
#define VOICECORED_STATUS_H

typedef struct server server;

void status_register(server *s);

#endif
