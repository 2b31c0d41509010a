#include "worker_message.h"
#include <stdio.h>

int worker_message_parse(const char *text, size_t len, worker_message *out, char *error, size_t error_len) {
    json_error_t jerr;
    out->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root) {
        snprintf(error, error_len, "malformed JSON: %s (at byte %d)", jerr.text, jerr.position);
        return -1;
    }
    return 0;
}
