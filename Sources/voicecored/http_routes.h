/* The HTTP routes of devices and browsers: OTA (GET or POST /xiaozhi/ota/, answering where the
 * device's WebSocket is and its token) and the browser page (files under --web-root for every
 * other path). */
#ifndef VOICECORED_HTTP_ROUTES_H
#define VOICECORED_HTTP_ROUTES_H

typedef struct transport transport;

/* Registers the routes with t. */
void http_routes_register(transport *t);

#endif
