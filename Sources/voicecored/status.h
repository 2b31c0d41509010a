/* The daemon's status routes: /healthz (the core's health verdict per worker kind, draining,
 * the number of devices and workers; 503 when degraded or draining) and /metrics (Prometheus
 * text: the daemon's counters, gauges and histograms and the counts the core keeps). */
#ifndef VOICECORED_STATUS_H
#define VOICECORED_STATUS_H

#include "device_session.h"
#include "hub.h"
#include "transport.h"
#include "worker_link.h"

typedef struct status {
    transport *t;
    hub *hub;
    devices *devices;
    workers *workers;
} status;

/* Registers /healthz and /metrics with t; st must outlive it. */
void status_register(status *st, transport *t, hub *h, devices *d, workers *w);

#endif
