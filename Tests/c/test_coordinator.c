/* The Coordinator through the typed C ABI: one full turn driven by vc_event structs with integer
 * ids, the typed effects drained (kinds, ids, numbers, the peers' text frames, binary payloads),
 * the close code the core decides, the counters, the event log, and invalid input rejected —
 * and answered to its peer — without a trap. */
#include "check.h"
#include <stdint.h>
#include <stdlib.h>
#include <voicecore.h>

static vc_event ev(int kind, uint64_t session, uint64_t worker, const char *body) {
    vc_event e = {.kind = kind, .session = session, .worker = worker, .body = body, .body_len = body ? strlen(body) : 0};
    return e;
}

static int handle(vc_coordinator *c, vc_event e, int64_t now) { return vc_coordinator_handle(c, &e, now); }

/* The effects of the last call, copied (their buffers live until the next call). */
typedef struct fx {
    vc_effect e;
    char body[2048];
} fx;

static int drain(vc_coordinator *c, fx *out, int cap) {
    vc_effect e;
    int n = 0, rc;
    while ((rc = vc_coordinator_next_effect(c, &e)) == 1) {
        CHECK(e.kind >= VC_EFFECT_DEVICE_SEND && e.kind <= VC_EFFECT_TIMER_CANCEL);
        CHECK(e.body == NULL ? e.body_len == 0 : strlen(e.body) == e.body_len);
        CHECK((e.data == NULL) == (e.data_len == 0));
        if (n < cap) {
            out[n].e = e;
            snprintf(out[n].body, sizeof out[n].body, "%s", e.body ? e.body : "");
        }
        n++;
    }
    CHECK(rc == 0);
    return n < cap ? n : cap;
}

/* The first effect of `kind` whose body contains needle (NULL: any), or NULL. */
static const fx *find(const fx *f, int n, int kind, const char *needle) {
    for (int i = 0; i < n; i++)
        if (f[i].e.kind == kind && (!needle || strstr(f[i].body, needle))) return &f[i];
    return NULL;
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

int main(void) {
    vc_coordinator *c = NULL;
    static fx f[64];
    int n;
    char body[512];
    int64_t now = 1000;

    CHECK(vc_abi_version() == VC_ABI_VERSION && VC_ABI_VERSION == 3);
    /* The structs' layouts are ABI (the library reads and writes them by offset). */
    CHECK(sizeof(vc_event) == 160 && sizeof(vc_effect) == 112 && sizeof(vc_counters) == 120);

    /* Config errors still give a handle with a message. */
    CHECK(vc_coordinator_new(NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_new(&c, "{\"no_such_key\":1}") == VC_ERR_INVALID_ARGUMENT);
    CHECK(c != NULL && strstr(vc_coordinator_errmsg(c), "no_such_key") != NULL);
    CHECK(handle(c, ev(VC_EVENT_WORKER_CONNECTED, 0, 1, NULL), now) == VC_ERR_STATE);
    vc_coordinator_free(c);
    vc_coordinator_free(NULL);

    CHECK(vc_coordinator_new(&c, "{\"heartbeat_ms\":1000}") == VC_OK);

    /* Workers 1 asr, 2 assistant, 3 tts: the host's ids are the core's. */
    const char *kinds[] = {"asr", "assistant", "tts"};
    for (uint64_t w = 1; w <= 3; w++) {
        CHECK(handle(c, ev(VC_EVENT_WORKER_CONNECTED, 0, w, NULL), now) == VC_OK);
        snprintf(body, sizeof body, "{\"type\":\"register\",\"protocol\":1,\"kinds\":[\"%s\"],\"slots\":{\"%s\":2}}", kinds[w - 1], kinds[w - 1]);
        CHECK(handle(c, ev(VC_EVENT_WORKER_MESSAGE, 0, w, body), now) == VC_OK);
        n = drain(c, f, 64);
        const fx *reg = find(f, n, VC_EFFECT_WORKER_SEND, "\"registered\"");
        CHECK(reg && reg->e.worker == w && strstr(reg->body, "\"heartbeat_ms\":1000") && reg->e.job_kind == -1);
    }
    /* Health: a query that changes nothing; every kind with a worker is ok. */
    const char *health = NULL;
    size_t health_len = 0;
    CHECK(vc_coordinator_health(c, now, &health, &health_len) == 0);
    CHECK(health && health_len == strlen(health) && strstr(health, "\"status\":\"ok\"") && strstr(health, "\"counters\""));
    CHECK(vc_coordinator_health(c, now, NULL, &health_len) == VC_ERR_INVALID_ARGUMENT);
    /* Counters, typed: nothing has failed yet, no kind is degraded. */
    vc_counters counters;
    memset(&counters, 0xff, sizeof counters);
    CHECK(vc_coordinator_counters(c, now, &counters) == 0);
    for (int k = 0; k < VC_KINDS; k++) CHECK(counters.placement_failures[k] == 0 && counters.refusals[k] == 0 && counters.degraded[k] == 0);
    CHECK(counters.jobs_reconciled == 0 && counters.heartbeat_timeouts == 0 && counters.recycles == 0);
    CHECK(vc_coordinator_counters(c, now, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_counters(NULL, now, &counters) == VC_ERR_INVALID_ARGUMENT);

    /* Tally: the core's counts of its log, by kind; 3 workers connected and registered. */
    vc_tally row;
    int connected = -1, registered = -1;
    size_t rows = 0;
    for (size_t i = 0; vc_coordinator_tally(c, VC_TALLY_EVENTS, i, &row) == 1; i++, rows++) {
        if (!strcmp(row.name, "worker.connected")) connected = (int)row.count;
        if (!strcmp(row.name, "worker.registered")) registered = (int)row.count;
    }
    CHECK(rows > 40 && connected == 3 && registered == 3);
    CHECK(vc_coordinator_tally(c, VC_TALLY_OUTCOMES, 0, &row) == 0);
    CHECK(vc_coordinator_tally(c, 7, 0, &row) == VC_ERR_INVALID_ARGUMENT);

    /* Device 12 connects with its identity, says hello (its text frame as sent), listens. */
    vc_event conn = ev(VC_EVENT_DEVICE_CONNECTED, 12, 0, NULL);
    conn.device_id = "aa:bb";
    conn.device_id_len = 5;
    conn.protocol_version = 3;
    conn.flags = VC_EVENT_AUTHENTICATED;
    CHECK(handle(c, conn, now) == VC_OK);
    n = drain(c, f, 64);
    const fx *hello_timer = find(f, n, VC_EFFECT_TIMER_SET, NULL);
    CHECK(hello_timer && hello_timer->e.timer > 0 && hello_timer->e.at_us == now + 10000000);
    CHECK(log_contains(c, "\"kind\":\"session.connected\",\"session\":\"s12\""));
    CHECK(handle(c, ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, "{\"type\":\"hello\",\"version\":3,\"transport\":\"websocket\",\"audio_params\":"
                                                       "{\"format\":\"opus\",\"sample_rate\":16000,\"channels\":1,\"frame_duration\":60}}"), now) == VC_OK);
    n = drain(c, f, 64);
    const fx *hello = find(f, n, VC_EFFECT_DEVICE_SEND, "\"type\":\"hello\"");
    CHECK(hello && hello->e.session == 12 && (hello->e.flags & VC_EFFECT_HELLO));
    CHECK(strstr(hello->body, "\"session_id\":\"s12\"") && strstr(hello->body, "\"sample_rate\":24000"));
    CHECK(find(f, n, VC_EFFECT_TIMER_CANCEL, NULL) && find(f, n, VC_EFFECT_TIMER_CANCEL, NULL)->e.timer == hello_timer->e.timer);
    CHECK(handle(c, ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, "{\"type\":\"listen\",\"state\":\"start\",\"mode\":\"auto\"}"), now) == VC_OK);
    n = drain(c, f, 64);
    const fx *asr_job = find(f, n, VC_EFFECT_WORKER_SEND, "\"kind\":\"asr\"");
    CHECK(asr_job && asr_job->e.worker == 1 && asr_job->e.job > 0 && asr_job->e.job_kind == VC_KIND_ASR && asr_job->e.session == 12);
    uint64_t asr = asr_job->e.job;

    /* Audio goes in and out as bytes: to the ASR worker as a typed audio effect. */
    int16_t pcm[960];
    for (int i = 0; i < 960; i++) pcm[i] = (int16_t)i;
    now += 60000;
    vc_event audio = ev(VC_EVENT_DEVICE_AUDIO, 12, 0, NULL);
    audio.data = pcm;
    audio.data_len = sizeof pcm;
    CHECK(handle(c, audio, now) == VC_OK);
    n = drain(c, f, 64);
    CHECK(n == 1 && f[0].e.kind == VC_EFFECT_WORKER_AUDIO && f[0].e.worker == 1 && f[0].e.job == asr);
    CHECK(f[0].e.data_len == sizeof pcm && f[0].e.body == NULL);
    audio.data_len = 3;  /* odd PCM16 */
    CHECK(handle(c, audio, now) == VC_ERR_PARSE);
    drain(c, f, 64);

    /* Final → stt + assistant job (job_kind, session, turn set). */
    snprintf(body, sizeof body, "{\"type\":\"output\",\"job\":%llu,\"event\":\"final\",\"text\":\"hello\"}", (unsigned long long)asr);
    now += 1000;
    CHECK(handle(c, ev(VC_EVENT_WORKER_MESSAGE, 0, 1, body), now) == VC_OK);
    n = drain(c, f, 64);
    CHECK(find(f, n, VC_EFFECT_DEVICE_SEND, "\"type\":\"stt\"") != NULL);
    const fx *assistant_job = find(f, n, VC_EFFECT_WORKER_SEND, "\"kind\":\"assistant\"");
    CHECK(assistant_job && assistant_job->e.worker == 2 && assistant_job->e.job_kind == VC_KIND_ASSISTANT);
    CHECK(assistant_job->e.session == 12 && assistant_job->e.turn == 1 && strstr(assistant_job->body, "\"text\":\"hello\""));
    uint64_t assistant = assistant_job->e.job;
    snprintf(body, sizeof body, "{\"type\":\"output\",\"job\":%llu,\"event\":\"delta\",\"text\":\"Hi there my friend.\"}",
             (unsigned long long)assistant);
    CHECK(handle(c, ev(VC_EVENT_WORKER_MESSAGE, 0, 2, body), now) == VC_OK);
    snprintf(body, sizeof body, "{\"type\":\"done\",\"job\":%llu}", (unsigned long long)assistant);
    CHECK(handle(c, ev(VC_EVENT_WORKER_MESSAGE, 0, 2, body), now) == VC_OK);
    n = drain(c, f, 64);
    const fx *tts_job = find(f, n, VC_EFFECT_WORKER_SEND, "\"kind\":\"tts\"");
    CHECK(tts_job && tts_job->e.worker == 3 && tts_job->e.job_kind == VC_KIND_TTS && tts_job->e.segment == 0);
    uint64_t tts = tts_job->e.job;

    /* TTS audio (the job's last) → tts start, device audio with its sentence_start frame, end. */
    int16_t out[2400] = {0};
    vc_event tts_audio = ev(VC_EVENT_WORKER_AUDIO, 0, 3, NULL);
    tts_audio.job = tts;
    tts_audio.flags = VC_EVENT_LAST;
    tts_audio.data = out;
    tts_audio.data_len = sizeof out;
    CHECK(handle(c, tts_audio, now) == VC_OK);
    n = drain(c, f, 64);
    CHECK(n == 5);  /* and the TTS job's deadline timer is cancelled, the playback's set */
    CHECK(f[0].e.kind == VC_EFFECT_DEVICE_SEND && (f[0].e.flags & VC_EFFECT_TTS_START) && strstr(f[0].body, "\"state\":\"start\""));
    CHECK(f[1].e.kind == VC_EFFECT_DEVICE_AUDIO && f[1].e.session == 12 && f[1].e.turn == 1 && f[1].e.sample_rate == 24000);
    CHECK(f[1].e.data_len == sizeof out && strstr(f[1].body, "\"state\":\"sentence_start\"") && strstr(f[1].body, "Hi there my friend."));
    CHECK(f[2].e.kind == VC_EFFECT_TIMER_CANCEL && f[4].e.kind == VC_EFFECT_TIMER_SET);
    CHECK(f[3].e.kind == VC_EFFECT_DEVICE_AUDIO_END && f[3].e.turn == 1 && strstr(f[3].body, "\"state\":\"stop\""));
    vc_event done = ev(VC_EVENT_DEVICE_PLAYBACK_DONE, 12, 0, NULL);
    done.turn = 1;
    CHECK(handle(c, done, now) == VC_OK);
    CHECK(log_contains(c, "\"kind\":\"turn.ended\",\"session\":\"s12\",\"turn\":1,\"reason\":\"done\""));
    CHECK(vc_coordinator_tally(c, VC_TALLY_OUTCOMES, 0, &row) == 1 && !strcmp(row.name, "done") && row.count == 1);

    /* Invalid input: an error, a message, an input.rejected line, an answer to the peer. */
    drain(c, f, 64);
    CHECK(handle(c, ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, "{not json"), now) == VC_ERR_CORRUPT);
    CHECK(strstr(vc_coordinator_errmsg(c), "malformed JSON") != NULL);
    n = drain(c, f, 64);
    CHECK(n == 1 && f[0].e.kind == VC_EFFECT_DEVICE_SEND && f[0].e.session == 12 && strstr(f[0].body, "\"type\":\"error\"") &&
          strstr(f[0].body, "malformed JSON"));
    CHECK(handle(c, ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, "{\"type\":\"abort\",\"type\":\"abort\"}"), now) == VC_ERR_CORRUPT);
    CHECK(handle(c, ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, "{\"type\":\"listen\",\"state\":\"detect\",\"text\":\"\xff\"}"), now) == VC_ERR_CORRUPT);
    CHECK(handle(c, ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, "{\"type\":\"frobnicate\"}"), now) == VC_ERR_PARSE);
    CHECK(strstr(vc_coordinator_errmsg(c), "frobnicate") != NULL);
    drain(c, f, 64);
    audio.data_len = 4;
    audio.session = 99;
    CHECK(handle(c, audio, now) == VC_ERR_NOT_FOUND);
    CHECK(handle(c, ev(VC_EVENT_DEVICE_CONNECTED, 0, 0, NULL), now) == VC_ERR_INVALID_ARGUMENT);  /* ids start at 1 */
    CHECK(handle(c, ev(42, 12, 0, NULL), now) == VC_ERR_INVALID_ARGUMENT);                        /* no such kind */
    drain(c, f, 64);
    CHECK(handle(c, ev(VC_EVENT_WORKER_MESSAGE, 0, 3, "{\"type\":\"done\",\"job\":99999}"), now) == VC_ERR_NOT_FOUND);
    n = drain(c, f, 64);
    CHECK(n == 1 && f[0].e.kind == VC_EFFECT_WORKER_SEND && f[0].e.worker == 3 && strstr(f[0].body, "unknown job"));
    CHECK(handle(c, ev(VC_EVENT_WORKER_MESSAGE, 0, 3, "{\"type\":\"teleport\",\"job\":7}"), now) == VC_ERR_PARSE);
    n = drain(c, f, 64);
    CHECK(n == 1 && f[0].e.job == 7 && strstr(f[0].body, "unknown worker message type") && strstr(f[0].body, "\"job\":7"));
    vc_event fired = ev(VC_EVENT_TIMER_FIRED, 0, 0, NULL);
    fired.timer = 1;
    CHECK(handle(c, fired, now - 1) != VC_OK);  /* time went backwards */
    CHECK(log_contains(c, "\"kind\":\"input.rejected\""));
    vc_event null_body = ev(VC_EVENT_DEVICE_MESSAGE, 12, 0, NULL);
    null_body.body_len = 5;
    CHECK(handle(c, null_body, now) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_handle(c, NULL, now) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_handle(NULL, &fired, now) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_next_effect(c, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(vc_coordinator_next_log(c, NULL, NULL) == VC_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(vc_coordinator_errmsg(NULL), "invalid coordinator handle (NULL)") == 0);

    /* Disconnect: the session's jobs are cancelled. */
    CHECK(handle(c, ev(VC_EVENT_DEVICE_DISCONNECTED, 12, 0, "bye"), now) == VC_OK);
    drain(c, f, 64);
    CHECK(log_contains(c, "\"kind\":\"session.gone\""));
    audio.session = 12;
    CHECK(handle(c, audio, now) == VC_ERR_NOT_FOUND);

    /* A device that never says hello is closed by the core, with the close code it decides. */
    CHECK(handle(c, ev(VC_EVENT_DEVICE_CONNECTED, 13, 0, NULL), now) == VC_OK);
    n = drain(c, f, 64);
    const fx *t13 = find(f, n, VC_EFFECT_TIMER_SET, NULL);
    CHECK(t13 != NULL);
    fired.timer = t13->e.timer;
    CHECK(handle(c, fired, t13->e.at_us) == VC_OK);
    n = drain(c, f, 64);
    const fx *close = find(f, n, VC_EFFECT_DEVICE_CLOSE, NULL);
    CHECK(close && close->e.session == 13 && close->e.code == 1008 && !strcmp(close->body, "hello-timeout"));
    vc_coordinator_free(c);

    /* The digest: equal for equal runs, different when a time differs; NULL entries is allowed. */
    uint64_t digests[3], counts[3];
    for (int run = 0; run < 3; run++) {
        vc_coordinator *d = NULL;
        CHECK(vc_coordinator_new(&d, NULL) == VC_OK);
        CHECK(vc_coordinator_digest(d, &digests[run], &counts[run]) == VC_OK && counts[run] == 0);
        handle(d, ev(VC_EVENT_WORKER_CONNECTED, 0, 1, NULL), 5);
        handle(d, ev(VC_EVENT_DEVICE_CONNECTED, 1, 0, NULL), run == 2 ? 11 : 10);
        drain(d, f, 64);
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
