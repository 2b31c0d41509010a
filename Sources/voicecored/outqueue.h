/* Messages waiting for a WebSocket to become writable, with LWS_PRE bytes of headroom each, and
 * a byte bound so a slow peer cannot grow the daemon's memory without limit. */
#ifndef VOICECORED_OUTQUEUE_H
#define VOICECORED_OUTQUEUE_H
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

typedef struct out_message {
    struct out_message *next;
    int binary;
    size_t len;
    /* hub latency tracing (hub_latency.h): the hop this message completes, 0 for none */
    uint8_t hop;
    uint64_t session;
    int64_t turn, origin_us;
    uint8_t buf[];            /* LWS_PRE headroom, then len bytes */
} out_message;

typedef struct outqueue {
    out_message *head, *tail;
    size_t bytes, count, limit;
} outqueue;

void outqueue_init(outqueue *q, size_t limit);
/* Copies header+body into a new message. Returns 0, -1 when the bound would be exceeded (the
 * message is not queued), -2 out of memory. */
int outqueue_push(outqueue *q, int binary, const void *header, size_t header_len, const void *body, size_t body_len);
out_message *outqueue_pop(outqueue *q);   /* free() it */
void outqueue_clear(outqueue *q);

#endif
