/* The JSON text messages a device sends (hello, listen, abort, mcp, ...): the daemon only parses
 * them (valid UTF-8 JSON, no duplicate keys) to carry them in a `device.message` event; the
 * Coordinator validates every field and owns the protocol (docs/device-protocol.md). */
#ifndef VOICECORED_DEVICE_MESSAGE_H
#define VOICECORED_DEVICE_MESSAGE_H
#include <jansson.h>
#include <stddef.h>

typedef struct device_message {
    json_t *root;                          /* owned: json_decref when done */
} device_message;

/* Returns 0 and fills *out, or -1 with a message in error (NUL-terminated, up to error_len). */
int device_message_parse(const char *text, size_t len, device_message *out, char *error, size_t error_len);

#endif
