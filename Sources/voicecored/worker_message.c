#include "worker_message.h"
#include <stdio.h>
#include <string.h>

static const char *const known_types[] = {"register", "heartbeat", "accepted", "output", "done", "error", "drain"};

int worker_message_parse(const char *text, size_t len, worker_message *out, char *error, size_t error_len) {
    out->root = NULL;
    out->type = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(error, error_len, "malformed JSON: %s (at byte %d)", jerr.text, jerr.position);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(error, error_len, "a message must be a JSON object");
        return -1;
    }
    json_t *type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        json_decref(root);
        snprintf(error, error_len, "a message needs a string \"type\"");
        return -1;
    }
    const char *name = json_string_value(type);
    int known = 0;
    for (size_t i = 0; i < sizeof known_types / sizeof known_types[0]; i++)
        if (strcmp(name, known_types[i]) == 0) known = 1;
    if (!known) {
        snprintf(error, error_len, "unknown message type \"%.40s\"", name);
        json_decref(root);
        return -1;
    }
    json_t *job = json_object_get(root, "job");
    if (job && (!json_is_integer(job) || json_integer_value(job) < 0)) {
        json_decref(root);
        snprintf(error, error_len, "\"job\" must be a non-negative integer");
        return -1;
    }
    out->root = root;
    out->type = name;
    return 0;
}
