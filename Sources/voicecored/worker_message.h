/* The worker protocol's JSON text messages: the daemon only parses them (valid UTF-8 JSON, no
 * duplicate keys) to carry them in a `worker.message` event; the Coordinator validates the type,
 * every field and that a job id is live and belongs to the worker, and its verdict is what the
 * worker is answered (docs/worker-protocol.md). */
#ifndef VOICECORED_WORKER_MESSAGE_H
#define VOICECORED_WORKER_MESSAGE_H
#include <jansson.h>
#include <stddef.h>

typedef struct worker_message {
    json_t *root;        /* owned: json_decref when done */
} worker_message;

int worker_message_parse(const char *text, size_t len, worker_message *out, char *error, size_t error_len);

#endif
