#include "device_message.h"
#include <stdio.h>
#include <string.h>

static int fail(char *error, size_t error_len, const char *message) {
    snprintf(error, error_len, "%s", message);
    return -1;
}

static int valid_frame_duration(json_int_t ms) {
    /* Opus packet durations the firmware can be built with. */
    return ms == 10 || ms == 20 || ms == 40 || ms == 60 || ms == 80 || ms == 100 || ms == 120;
}

static int valid_sample_rate(json_int_t hz) {
    return hz == 8000 || hz == 12000 || hz == 16000 || hz == 24000 || hz == 48000;
}

static int parse_audio_params(json_t *params, device_message *out, char *error, size_t error_len) {
    if (!json_is_object(params)) return fail(error, error_len, "hello: audio_params must be an object");
    json_t *format = json_object_get(params, "format");
    if (format && (!json_is_string(format) || strcmp(json_string_value(format), "opus") != 0))
        return fail(error, error_len, "hello: audio_params.format must be \"opus\"");
    json_t *channels = json_object_get(params, "channels");
    if (channels && (!json_is_integer(channels) || json_integer_value(channels) != 1))
        return fail(error, error_len, "hello: audio_params.channels must be 1");
    json_t *rate = json_object_get(params, "sample_rate");
    if (rate) {
        if (!json_is_integer(rate) || !valid_sample_rate(json_integer_value(rate)))
            return fail(error, error_len, "hello: audio_params.sample_rate must be 8000, 12000, 16000, 24000 or 48000");
        out->sample_rate = (int)json_integer_value(rate);
    }
    json_t *duration = json_object_get(params, "frame_duration");
    if (duration) {
        if (!json_is_integer(duration) || !valid_frame_duration(json_integer_value(duration)))
            return fail(error, error_len, "hello: audio_params.frame_duration must be 10, 20, 40, 60, 80, 100 or 120");
        out->frame_duration_ms = (int)json_integer_value(duration);
    }
    return 0;
}

int device_message_parse(const char *text, size_t len, device_message *out, char *error, size_t error_len) {
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    /* jansson rejects invalid UTF-8 and NUL bytes inside strings by default. */
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(error, error_len, "malformed JSON: %s (at byte %d)", jerr.text, jerr.position);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(error, error_len, "a message must be a JSON object");
    }
    json_t *type = json_object_get(root, "type");
    if (!json_is_string(type) || json_string_length(type) == 0 || json_string_length(type) > DEVICE_MESSAGE_TYPE_MAX) {
        json_decref(root);
        return fail(error, error_len, "a message needs a string \"type\" of 1-32 characters");
    }
    memcpy(out->type, json_string_value(type), json_string_length(type) + 1);
    out->root = root;
    if (strcmp(out->type, "hello") == 0) {
        out->is_hello = 1;
        json_t *params = json_object_get(root, "audio_params");
        if (params && parse_audio_params(params, out, error, error_len) != 0) {
            json_decref(root);
            out->root = NULL;
            return -1;
        }
    }
    return 0;
}
