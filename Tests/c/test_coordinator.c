/* The Coordinator through the C ABI: one full turn driven by JSON events, effects drained with
 * their binary payloads, the event log, and invalid input rejected without a trap. */
#include "check.h"
#include <stdint.h>
#include <stdlib.h>
#include <voicecore.h>

static int handle(vc_coordinator *c, const char *json, const void *data, size_t len, int64_t now) {
    return vc_coordinator_handle(c, json, strlen(json), data, len, now);
}

/* Drains every effect; returns how many there were and copies the first one whose JSON contains
 * `needle` into found (if any). Also counts bytes of binary payloads. */
static int drain(vc_coordinator *c, const char *needle, char *found, size_t cap, size_t *payload) {
    vc_effect e;
    int n = 0, rc;
    if (found) found[0] = 0;
    while ((rc = vc_coordinator_next_effect(c, &e)) == 1) {
        n++;
        CHECK(e.json != NULL && strlen(e.json) == e.json_len && e.json[0] == '{');
        if (payload) *payload += e.data_len;
        if (needle && found && !found[0] && strstr(e.json, needle)) {
            snprintf(found, cap, "%s", e.json);
        }
    }
    CHECK(rc == 0);
    return n;
}

static int log_contains(vc_coordinator *c, const char *needle) {
    const char *line;
    size_t len;
    int hit = 0;
    while (vc_coordinator_next_log(c, &line, &len) == 1) {
        CHECK(strlen(line) == len);
        if (strstr(line, needle)) hit = 1;
    }
    return hit;
}

/* The integer after `"key":` in json, or -1. */
static long long field(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    return p ? atoll(p + strlen(pattern)) : -1;
}

int main(void) {
    vc_coordinator *c = NULL;
    char buf[4096], ev[512];
    size_t bytes = 0;
    int64_t now = 1000;

    /* Config errors still give a handle with a message. */
    CHECK(vc_coordinator_new(NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_new(&c, "{\"no_such_key\":1}") == VC_ERR_INVALID_ARGUMENT);
    CHECK(c != NULL && strstr(vc_coordinator_errmsg(c), "no_such_key") != NULL);
    CHECK(handle(c, "{\"type\":\"worker.connected\",\"worker\":\"a\"}", NULL, 0, now) == VC_ERR_STATE);
    vc_coordinator_free(c);
    vc_coordinator_free(NULL);

    CHECK(vc_coordinator_new(&c, "{\"heartbeat_ms\":1000}") == VC_OK);

    /* Workers: asr, assistant, tts. */
    const char *kinds[] = {"asr", "assistant", "tts"};
    for (int i = 0; i < 3; i++) {
        snprintf(ev, sizeof ev, "{\"type\":\"worker.connected\",\"worker\":\"%s-w\"}", kinds[i]);
        CHECK(handle(c, ev, NULL, 0, now) == VC_OK);
        snprintf(ev, sizeof ev,
                 "{\"type\":\"worker.message\",\"worker\":\"%s-w\",\"message\":{\"type\":\"register\",\"protocol\":1,"
                 "\"kinds\":[\"%s\"],\"slots\":{\"%s\":2}}}", kinds[i], kinds[i], kinds[i]);
        CHECK(handle(c, ev, NULL, 0, now) == VC_OK);
        drain(c, "registered", buf, sizeof buf, NULL);
        CHECK(strstr(buf, "\"heartbeat_ms\":1000") != NULL);
    }

    /* Health: a query that changes nothing; every kind with a worker is ok. */
    const char *health = NULL;
    size_t health_len = 0;
    CHECK(vc_coordinator_health(c, now, &health, &health_len) == 0);
    CHECK(health && health_len == strlen(health) && strstr(health, "\"status\":\"ok\"") && strstr(health, "\"counters\""));
    CHECK(strstr(health, "\"tts\":{\"status\":\"ok\""));
    CHECK(vc_coordinator_health(c, now, NULL, &health_len) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_health(NULL, now, &health, &health_len) == VC_ERR_INVALID_ARGUMENT);

    /* Tally: the core's counts of its log, by kind; 3 workers connected and registered. */
    vc_tally row;
    int connected = -1, registered = -1;
    size_t rows = 0;
    for (size_t i = 0; vc_coordinator_tally(c, VC_TALLY_EVENTS, i, &row) == 1; i++, rows++) {
        if (!strcmp(row.name, "worker.connected")) connected = (int)row.count;
        if (!strcmp(row.name, "worker.registered")) registered = (int)row.count;
    }
    CHECK(rows > 40 && connected == 3 && registered == 3);
    CHECK(vc_coordinator_tally(c, VC_TALLY_OUTCOMES, 0, &row) == 0);  /* no turn has ended */
    CHECK(vc_coordinator_tally(c, VC_TALLY_STAGES, 0, &row) == 0);
    CHECK(vc_coordinator_tally(c, 7, 0, &row) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_tally(c, VC_TALLY_EVENTS, 0, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_tally(NULL, VC_TALLY_EVENTS, 0, &row) == VC_ERR_INVALID_ARGUMENT);

    /* A device connects, says hello, listens. */
    CHECK(handle(c, "{\"type\":\"device.connected\",\"session\":\"dev-1\",\"device_id\":\"aa:bb\",\"protocol_version\":3}", NULL, 0, now) == VC_OK);
    CHECK(handle(c, "{\"type\":\"device.message\",\"session\":\"dev-1\",\"message\":{\"type\":\"hello\",\"version\":3,"
                    "\"transport\":\"websocket\",\"audio_params\":{\"format\":\"opus\",\"sample_rate\":16000,\"channels\":1,\"frame_duration\":60}}}",
                 NULL, 0, now) == VC_OK);
    drain(c, "\"type\":\"hello\"", buf, sizeof buf, NULL);
    CHECK(strstr(buf, "\"transport\":\"websocket\"") && strstr(buf, "\"session_id\":\"dev-1\"") && strstr(buf, "\"sample_rate\":24000"));
    CHECK(handle(c, "{\"type\":\"device.message\",\"session\":\"dev-1\",\"message\":{\"type\":\"listen\",\"state\":\"start\",\"mode\":\"auto\"}}", NULL, 0, now) == VC_OK);
    drain(c, "\"kind\":\"asr\"", buf, sizeof buf, NULL);
    long long asr = field(buf, "job");
    CHECK(asr > 0 && strstr(buf, "\"worker\":\"asr-w\""));

    /* Audio goes to the ASR worker with its payload. */
    int16_t pcm[960] = {0};
    now += 60000;
    CHECK(handle(c, "{\"type\":\"device.audio\",\"session\":\"dev-1\"}", pcm, sizeof pcm, now) == VC_OK);
    bytes = 0;
    drain(c, "\"type\":\"audio\"", buf, sizeof buf, &bytes);
    CHECK(bytes == sizeof pcm && buf[0]);

    /* Final → stt + assistant job. */
    snprintf(ev, sizeof ev, "{\"type\":\"worker.message\",\"worker\":\"asr-w\",\"message\":{\"type\":\"output\",\"job\":%lld,\"event\":\"final\",\"text\":\"hello\"}}", asr);
    now += 1000;
    CHECK(handle(c, ev, NULL, 0, now) == VC_OK);
    drain(c, "\"kind\":\"assistant\"", buf, sizeof buf, NULL);
    long long assistant = field(buf, "job");
    CHECK(assistant > 0 && strstr(buf, "\"text\":\"hello\""));
    snprintf(ev, sizeof ev, "{\"type\":\"worker.message\",\"worker\":\"assistant-w\",\"message\":{\"type\":\"output\",\"job\":%lld,\"event\":\"delta\",\"text\":\"Hi there my friend.\"}}", assistant);
    CHECK(handle(c, ev, NULL, 0, now) == VC_OK);
    snprintf(ev, sizeof ev, "{\"type\":\"worker.message\",\"worker\":\"assistant-w\",\"message\":{\"type\":\"done\",\"job\":%lld}}", assistant);
    CHECK(handle(c, ev, NULL, 0, now) == VC_OK);
    drain(c, "\"kind\":\"tts\"", buf, sizeof buf, NULL);
    long long tts = field(buf, "job");
    CHECK(tts > 0 && strstr(buf, "\"segment\":0"));

    /* TTS audio → tts start, then device.audio with sentence_start and the payload. */
    int16_t out[2400] = {0};
    snprintf(ev, sizeof ev, "{\"type\":\"worker.audio\",\"worker\":\"tts-w\",\"job\":%lld,\"last\":true}", tts);
    CHECK(handle(c, ev, out, sizeof out, now) == VC_OK);
    vc_effect e;
    int saw_start = 0, saw_audio = 0, saw_end = 0;
    while (vc_coordinator_next_effect(c, &e) == 1) {
        if (strstr(e.json, "\"state\":\"start\"")) saw_start = !saw_audio;
        if (strstr(e.json, "\"type\":\"device.audio\"")) {
            saw_audio = 1;
            CHECK(e.data_len == sizeof out && e.data != NULL);
            CHECK(strstr(e.json, "\"sentence_start\":") != NULL);
        }
        if (strstr(e.json, "\"type\":\"device.audio_end\"")) saw_end = saw_audio;
    }
    CHECK(saw_start && saw_audio && saw_end);
    CHECK(handle(c, "{\"type\":\"device.playback_done\",\"session\":\"dev-1\",\"turn\":1}", NULL, 0, now) == VC_OK);
    CHECK(log_contains(c, "\"kind\":\"turn.ended\",\"session\":\"dev-1\",\"turn\":1,\"reason\":\"done\""));
    CHECK(vc_coordinator_tally(c, VC_TALLY_OUTCOMES, 0, &row) == 1 && !strcmp(row.name, "done") && row.count == 1);
    CHECK(vc_coordinator_tally(c, VC_TALLY_OUTCOMES, 1, &row) == 0);

    /* Invalid input: an error, a message, an input.rejected line, never a trap. */
    CHECK(handle(c, "{not json", NULL, 0, now) == VC_ERR_PARSE);
    CHECK(strstr(vc_coordinator_errmsg(c), "JSON") != NULL);
    CHECK(handle(c, "{\"type\":\"device.frobnicate\",\"session\":\"dev-1\"}", NULL, 0, now) == VC_ERR_PARSE);
    CHECK(strstr(vc_coordinator_errmsg(c), "device.frobnicate") != NULL);
    CHECK(handle(c, "{\"type\":\"device.audio\",\"session\":\"nobody\"}", pcm, 4, now) == VC_ERR_NOT_FOUND);
    CHECK(handle(c, "{\"type\":\"device.message\",\"session\":\"dev-1\"}", NULL, 0, now) == VC_ERR_PARSE);
    CHECK(strstr(vc_coordinator_errmsg(c), "message") != NULL);
    CHECK(handle(c, "{\"type\":\"worker.message\",\"worker\":\"tts-w\",\"message\":{\"type\":\"done\",\"job\":99999}}", NULL, 0, now) == VC_ERR_NOT_FOUND);
    drain(c, "\"type\":\"error\"", buf, sizeof buf, NULL);
    CHECK(strstr(buf, "unknown job") != NULL);
    CHECK(handle(c, "{\"type\":\"timer.fired\",\"timer\":1}", NULL, 0, now - 1) != VC_OK);  /* time went backwards */
    CHECK(log_contains(c, "\"kind\":\"input.rejected\""));
    CHECK(vc_coordinator_handle(c, NULL, 0, NULL, 0, now) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_handle(NULL, "{}", 2, NULL, 0, now) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_next_effect(c, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_next_log(c, NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(vc_coordinator_errmsg(NULL), "invalid coordinator handle (NULL)") == 0);

    /* Disconnect: the session's jobs are cancelled. */
    CHECK(handle(c, "{\"type\":\"device.disconnected\",\"session\":\"dev-1\",\"reason\":\"bye\"}", NULL, 0, now) == VC_OK);
    drain(c, NULL, NULL, 0, NULL);
    CHECK(log_contains(c, "\"kind\":\"session.gone\""));
    CHECK(handle(c, "{\"type\":\"device.audio\",\"session\":\"dev-1\"}", pcm, 4, now) == VC_ERR_NOT_FOUND);

    vc_coordinator_free(c);
    /* The digest: equal for equal runs, different when a time differs; NULL entries is allowed. */
    uint64_t digests[3], counts[3];
    for (int run = 0; run < 3; run++) {
        vc_coordinator *d = NULL;
        CHECK(vc_coordinator_new(&d, NULL) == VC_OK);
        CHECK(vc_coordinator_digest(d, &digests[run], &counts[run]) == VC_OK && counts[run] == 0);
        handle(d, "{\"type\":\"worker.connected\",\"worker\":\"w\"}", NULL, 0, 5);
        handle(d, "{\"type\":\"device.connected\",\"session\":\"s\"}", NULL, 0, run == 2 ? 11 : 10);
        drain(d, NULL, NULL, 0, NULL);
        CHECK(vc_coordinator_digest(d, &digests[run], NULL) == VC_OK);
        CHECK(vc_coordinator_digest(d, &digests[run], &counts[run]) == VC_OK && counts[run] >= 2);
        CHECK(vc_coordinator_digest(d, NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
        vc_coordinator_free(d);
    }
    CHECK(digests[0] == digests[1] && counts[0] == counts[1]);
    CHECK(digests[2] != digests[0]);
    CHECK(vc_coordinator_digest(NULL, &digests[0], NULL) == VC_ERR_INVALID_ARGUMENT);

    return CHECK_DONE();
}
