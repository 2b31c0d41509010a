/* Admission: which TCP connections may hold a place on the port before they have said what they
 * want. A connection is *pending* from its accept until its request headers are complete (a plain
 * HTTP request, or a WebSocket upgrade), and again while an HTTP keep-alive connection waits for
 * its next request. Pending connections are bounded three ways:
 *
 *   - in time: one that is still pending header_timeout after it began waiting is closed;
 *   - overall: a connection beyond max_pending evicts the oldest *idle* pending connection (one
 *     with nothing it sent waiting unread) that has waited at least ADMISSION_EVICT_AGE_US; with
 *     none, the new one is refused (closed at accept). This bounds descriptors and header memory;
 *   - per address, once half of max_pending is taken: a connection beyond its address's
 *     max_pending_per_address evicts that address's oldest such connection, or is refused. So
 *     one address cannot take the whole bound, while below half of it a burst from one address
 *     (a household's devices behind NAT reconnecting, a test on loopback) is admitted whole;
 *   - max_per_address (0: none) bounds every connection of one address, pending or not.
 *
 * So slow or silent clients cannot starve the port: a new request always finds room, and
 * /healthz, /metrics, devices and workers are answered while they are held. No lws types leak
 * past struct lws *: the caller maps lws callbacks onto these calls (transport.c). */
#ifndef VOICECORED_ADMISSION_H
#define VOICECORED_ADMISSION_H
#include "idmap.h"
#include <stdint.h>
#include <sys/socket.h>

struct lws;

/* An idle pending connection this old may be evicted to make room for a new one. */
#define ADMISSION_EVICT_AGE_US 1000000

typedef struct admission_limits {
    int64_t header_timeout_us;
    int max_pending;
    int max_pending_per_address;
    int max_per_address;         /* 0: no limit */
} admission_limits;

typedef struct admitted admitted;

typedef struct admission {
    admission_limits limits;
    idmap by_wsi;                /* struct lws * → admitted */
    idmap by_addr;               /* address key → per-address counts */
    admitted *oldest, *newest;   /* the pending connections, in the order they began waiting */
    int pending;
    /* The accept being handled, until lws creates its connection (LWS_CALLBACK_WSI_CREATE). */
    uint64_t accepting;
    /* Totals, for /metrics. */
    uint64_t refused, evicted, timed_out;
} admission;

typedef enum { ADMIT_OK, ADMIT_REFUSED_ADDRESS, ADMIT_REFUSED_PENDING } admit_result;

void admission_init(admission *a, admission_limits limits);
void admission_free(admission *a);

/* A connection from addr was accepted at now_us: admitted, or refused (the caller closes it).
 * Admitting may evict older pending connections (closed through lws_set_timeout). */
admit_result admission_accept(admission *a, const struct sockaddr *addr, int64_t now_us);
/* lws created the connection just admitted. */
void admission_created(admission *a, struct lws *wsi, int64_t now_us);
/* Its request headers are complete: it is no longer pending. */
void admission_request(admission *a, struct lws *wsi);
/* An HTTP keep-alive connection waits for its next request: pending again from now_us. */
void admission_idle(admission *a, struct lws *wsi, int64_t now_us);
/* The connection is gone. */
void admission_destroyed(admission *a, struct lws *wsi);
/* Closes the connections pending longer than the header timeout; returns how many. */
int admission_expire(admission *a, int64_t now_us);

/* The address a connection is counted under (IPv4 and IPv4-mapped IPv6 alike); never 0. */
uint64_t admission_address_key(const struct sockaddr *addr);

#endif
