/* Validation of the JSON text messages a device sends (hello, listen, abort, mcp, ...). The
 * daemon checks the shape it relies on itself (an object with a short string `type`; a hello's
 * audio_params) and hands the object to the Coordinator, which owns the protocol semantics. */
#ifndef VOICECORED_DEVICE_MESSAGE_H
#define VOICECORED_DEVICE_MESSAGE_H
#include <jansson.h>
#include <stddef.h>

#define DEVICE_MESSAGE_TYPE_MAX 32

typedef struct device_message {
    json_t *root;                          /* owned: json_decref when done */
    char type[DEVICE_MESSAGE_TYPE_MAX + 1];
    int is_hello;
    int frame_duration_ms;                 /* hello: uplink frame duration, 0 when absent */
    int sample_rate;                       /* hello: uplink sample rate, 0 when absent */
} device_message;

/* Returns 0 and fills *out, or -1 with a message in error (NUL-terminated, up to error_len). */
int device_message_parse(const char *text, size_t len, device_message *out, char *error, size_t error_len);

#endif
