/* A recorded journal's events as the typed vc_events hub.c hands the Coordinator, for the
 * benchmarks that replay one (hub_path.c, journal_overhead.c). A VCJRNL2 journal holds them as
 * they were; a VCJRNL1 journal (the daemon before the typed ABI, ABI 2) holds JSON events, which
 * are converted here, before any timing, into the vc_events today's daemon would have built for
 * the same input: "s12" becomes session 12, a message object its compact JSON text. */
#ifndef RECORDED_EVENTS_H
#define RECORDED_EVENTS_H
#include "journal.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <voicecore.h>

typedef struct recorded {
    int64_t time_us;
    vc_event e;
} recorded;

typedef struct recording {
    uint8_t *file;
    recorded *events;
    size_t n;
    char *config;             /* the Coordinator's config from the first 'H' record (malloc'd) */
    uint64_t digest;          /* the last digest recorded ('D' or 'Z') */
    uint64_t bytes;           /* event bytes (both parts of the 'E' records) */
    int version;              /* 1 or 2 */
} recording;

static uint64_t recorded_id(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s && s[0] && s[1] ? strtoull(s + 1, NULL, 10) : 0;
}

static const char *recorded_text(json_t *t) {
    return t ? json_dumps(t, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;   /* leaked: lives as long as the run */
}

/* A VCJRNL1 event (JSON) as the vc_event the typed daemon builds. */
static int recorded_convert(const char *json, size_t len, const void *data, size_t data_len, vc_event *e) {
    json_t *o = json_loadb(json, len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) return -1;
    memset(e, 0, sizeof *e);
    e->session = recorded_id(o, "session");
    e->worker = recorded_id(o, "worker");
    e->data = data_len ? data : NULL;
    e->data_len = data_len;
    const char *body = NULL;
    if (!strcmp(type, "device.connected")) {
        e->kind = VC_EVENT_DEVICE_CONNECTED;
        const char *d = json_string_value(json_object_get(o, "device_id")), *c = json_string_value(json_object_get(o, "client_id"));
        e->device_id = d ? strdup(d) : NULL;
        e->device_id_len = d ? strlen(d) : 0;
        e->client_id = c ? strdup(c) : NULL;
        e->client_id_len = c ? strlen(c) : 0;
        e->protocol_version = (int32_t)json_integer_value(json_object_get(o, "protocol_version"));
        e->flags = json_is_false(json_object_get(o, "authenticated")) ? 0 : VC_EVENT_AUTHENTICATED;
    } else if (!strcmp(type, "device.message")) {
        e->kind = VC_EVENT_DEVICE_MESSAGE;
        body = recorded_text(json_object_get(o, "message"));
    } else if (!strcmp(type, "device.audio")) {
        e->kind = VC_EVENT_DEVICE_AUDIO;
    } else if (!strcmp(type, "device.playback_done")) {
        e->kind = VC_EVENT_DEVICE_PLAYBACK_DONE;
        e->turn = (uint64_t)json_integer_value(json_object_get(o, "turn"));
    } else if (!strcmp(type, "device.disconnected")) {
        e->kind = VC_EVENT_DEVICE_DISCONNECTED;
        const char *r = json_string_value(json_object_get(o, "reason"));
        body = r ? strdup(r) : NULL;
    } else if (!strcmp(type, "text.input")) {
        e->kind = VC_EVENT_TEXT_INPUT;
        const char *t = json_string_value(json_object_get(o, "text"));
        body = t ? strdup(t) : NULL;
    } else if (!strcmp(type, "worker.connected")) {
        e->kind = VC_EVENT_WORKER_CONNECTED;
    } else if (!strcmp(type, "worker.message")) {
        e->kind = VC_EVENT_WORKER_MESSAGE;
        body = recorded_text(json_object_get(o, "message"));
    } else if (!strcmp(type, "worker.audio")) {
        e->kind = VC_EVENT_WORKER_AUDIO;
        e->job = (uint64_t)json_integer_value(json_object_get(o, "job"));
        e->flags = json_is_true(json_object_get(o, "last")) ? VC_EVENT_LAST : 0;
    } else if (!strcmp(type, "worker.disconnected")) {
        e->kind = VC_EVENT_WORKER_DISCONNECTED;
    } else if (!strcmp(type, "timer.fired")) {
        e->kind = VC_EVENT_TIMER_FIRED;
        e->timer = (uint64_t)json_integer_value(json_object_get(o, "timer"));
    } else if (!strcmp(type, "config")) {
        e->kind = VC_EVENT_CONFIG;
        body = recorded_text(json_object_get(o, "config"));
    } else {
        e->kind = 99;   /* rejected by the core, as it was */
    }
    e->body = body;
    e->body_len = body ? strlen(body) : 0;
    json_decref(o);
    return 0;
}

/* Reads the journal file at path (its first segment, or any one). 0, or -1 with a message. */
static int recording_load(const char *path, recording *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    out->file = malloc(len);
    if (!out->file || fread(out->file, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    fclose(f);
    if (len < JOURNAL_MAGIC_LEN || memcmp(out->file, "VCJRNL", 6) != 0 || (out->file[6] != '1' && out->file[6] != '2')) {
        fprintf(stderr, "%s is not a journal\n", path);
        return -1;
    }
    out->version = out->file[6] - '0';
    size_t at = JOURNAL_MAGIC_LEN, cap = 1024;
    out->events = malloc(cap * sizeof *out->events);
    journal_record r;
    while (journal_parse(out->file, len, &at, &r) == JOURNAL_READ_RECORD) {
        if (r.type == 'H' && !out->config) {
            json_t *h = json_loadb(r.json, r.json_len, 0, NULL);
            out->config = json_dumps(json_object_get(h, "config"), JSON_COMPACT);
            json_decref(h);
        }
        if (r.type == 'D' || r.type == 'Z') {
            json_t *d = json_loadb(r.json, r.json_len, 0, NULL);
            const char *hex = json_string_value(json_object_get(d, "digest"));
            if (hex) out->digest = strtoull(hex, NULL, 16);
            json_decref(d);
        }
        if (r.type != 'E') continue;
        if (out->n == cap) out->events = realloc(out->events, (cap *= 2) * sizeof *out->events);
        recorded *e = &out->events[out->n];
        e->time_us = r.time_us;
        int rc = out->version == 2 ? journal_decode_event(r.json, r.json_len, r.data, r.data_len, &e->e)
                                   : recorded_convert(r.json, r.json_len, r.data, r.data_len, &e->e);
        if (rc != 0) {
            fprintf(stderr, "%s: a bad event record\n", path);
            return -1;
        }
        out->bytes += r.json_len + r.data_len;
        out->n++;
    }
    if (!out->n) {
        fprintf(stderr, "no events in %s\n", path);
        return -1;
    }
    return 0;
}

/* The benchmarks' command line, JOURNAL_FILE [passes]: loads the recording into *rec and sets
 * *passes (default 5). 0, or the exit status: 2 for a usage error, 1 when the journal cannot be read. */
static int recording_from_args(int argc, char **argv, recording *rec, int *passes) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s JOURNAL_FILE [passes]\n", argv[0]);
        return 2;
    }
    *passes = argc > 2 ? atoi(argv[2]) : 5;
    return recording_load(argv[1], rec) != 0 ? 1 : 0;
}

#endif
