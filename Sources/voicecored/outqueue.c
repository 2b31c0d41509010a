#include "outqueue.h"
#include <stdlib.h>
#include <string.h>

void outqueue_init(outqueue *q, size_t limit) {
    q->head = q->tail = NULL;
    q->bytes = q->count = 0;
    q->limit = limit;
}

int outqueue_push(outqueue *q, int binary, const void *header, size_t header_len, const void *body, size_t body_len) {
    size_t len = header_len + body_len;
    if (q->bytes + len > q->limit) return -1;
    out_message *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) return -2;
    m->next = NULL;
    m->binary = binary;
    m->hop = 0;
    m->session = 0;
    m->turn = 0;
    m->origin_us = 0;
    m->len = len;
    if (header_len) memcpy(m->buf + LWS_PRE, header, header_len);
    if (body_len) memcpy(m->buf + LWS_PRE + header_len, body, body_len);
    if (q->tail) q->tail->next = m; else q->head = m;
    q->tail = m;
    q->bytes += len;
    q->count++;
    return 0;
}

out_message *outqueue_pop(outqueue *q) {
    out_message *m = q->head;
    if (!m) return NULL;
    q->head = m->next;
    if (!q->head) q->tail = NULL;
    q->bytes -= m->len;
    q->count--;
    return m;
}

void outqueue_clear(outqueue *q) {
    out_message *m;
    while ((m = outqueue_pop(q))) free(m);
}
