/* Validation of the worker protocol's JSON text messages: an object with a known string
 * `type`; job ids, when present, are non-negative integers. The Coordinator checks that a job
 * id is live and belongs to the worker. */
#ifndef VOICECORED_WORKER_MESSAGE_H
#define VOICECORED_WORKER_MESSAGE_H
#include <jansson.h>
#include <stddef.h>

typedef struct worker_message {
    json_t *root;        /* owned: json_decref when done */
    const char *type;    /* points into root */
} worker_message;

int worker_message_parse(const char *text, size_t len, worker_message *out, char *error, size_t error_len);

#endif
