/* The HTTP routes of devices and browsers: OTA (GET or POST /xiaozhi/ota/, answering where the
 * device's WebSocket is and its token) and the browser page (files under --web-root for every
 * other path). An OTA request with a Device-Id and a language (the POSTed system info's
 * "language", else the first tag of Accept-Language) hands the hub a VC_EVENT_DEVICE_LANGUAGE
 * through the sink it registered (the core validates it). */
#ifndef VOICECORED_HTTP_ROUTES_H
#define VOICECORED_HTTP_ROUTES_H

#include "event_sink.h"

typedef struct transport transport;

typedef struct http_routes {
    transport *transport;
    event_sink sink;             /* where the devices' reported languages go (the hub) */
} http_routes;

/* Registers the routes with t; r must outlive t's loop. */
void http_routes_register(http_routes *r, transport *t);
void http_routes_set_sink(http_routes *r, event_sink sink);

#endif
