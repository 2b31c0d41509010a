#include "device_message.h"
#include <stdio.h>
#include <string.h>

int device_message_parse(const char *text, size_t len, device_message *out, char *error, size_t error_len) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    /* jansson rejects invalid UTF-8 and NUL bytes inside strings by default. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(error, error_len, "malformed JSON: %s (at byte %d)", jerr.text, jerr.position);
        return -1;
    }
    out->root = root;
    return 0;
}
