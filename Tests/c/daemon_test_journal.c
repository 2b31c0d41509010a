/* The journal's framing: what the writer records the reader gets back byte for byte (JSON and a
 * binary payload with NULs), digest records come every digest_every events, segments roll over
 * by size with a header that carries the digest so far, a run never deletes its own first
 * segment (it stops, "full"), older runs are pruned, and a cut or flipped byte is reported as
 * truncated or corrupt. */
#define _GNU_SOURCE
#include "check.h"
#include "journal.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/vcjournal-test-XXXXXX";

/* The record's JSON (not NUL-terminated) contains needle. */
static int has(const journal_record *r, const char *needle) { return memmem(r->json, r->json_len, needle, strlen(needle)) != NULL; }

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len + 1);
    *len = fread(buf, 1, *len, f);
    fclose(f);
    return buf;
}

static int count_files(char names[][256], int max) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "journal-", 8) == 0 && n < max) snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++)   /* sort by name */
        for (int k = i + 1; k < n; k++)
            if (strcmp(names[i], names[k]) > 0) {
                char t[256];
                memcpy(t, names[i], 256);
                memcpy(names[i], names[k], 256);
                memcpy(names[k], t, 256);
            }
    return n;
}

static void remove_all(void) {
    char names[64][256];
    int n = count_files(names, 64);
    for (int i = 0; i < n; i++) {
        char path[sizeof dir + 300];
        snprintf(path, sizeof path, "%s/%.255s", dir, names[i]);
        unlink(path);
    }
}

static void round_trip(void) {
    journal_options o = {dir, 1 << 20, 4, 3, "{\"library\":\"test\",\"config\":{\"heartbeat_ms\":1000}}"};
    char error[256];
    journal *j = journal_open(&o, 100, error, sizeof error);
    CHECK(j != NULL);
    char path[1024];
    snprintf(path, sizeof path, "%s", journal_path(j));
    /* Users' audio and the device tokens they presented: readable by the daemon's user only. */
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    const uint8_t pcm[] = {0, 1, 0, 0, 255, 0, 'x'};
    int due[5];
    for (int i = 0; i < 5; i++) {
        /* Typed events as the hub records them: a device's audio, or its text frame and identity. */
        char body[64];
        int n = snprintf(body, sizeof body, "{\"type\":\"listen\",\"n\":%d}", i);
        vc_event e = {.kind = i % 2 ? VC_EVENT_DEVICE_AUDIO : VC_EVENT_DEVICE_MESSAGE, .session = 10 + (uint64_t)i,
                      .flags = (uint32_t)i, .turn = 7, .protocol_version = 3};
        if (i % 2) {
            e.data = pcm;
            e.data_len = sizeof pcm;
        } else {
            e.body = body;
            e.body_len = (size_t)n;
            e.device_id = "esp";
            e.device_id_len = 3;
        }
        due[i] = journal_event(j, 1000 + i, &e);
        if (due[i] == 1) journal_digest(j, 1000 + i, 0xabcdef0123456789ull, 10 + (uint64_t)i);
    }
    CHECK(due[0] == 0 && due[1] == 0 && due[2] == 1 && due[3] == 0 && due[4] == 0);
    CHECK(journal_events(j) == 5);
    journal_close(j, 2000, 0x1111, 42);

    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    CHECK(buf && len > JOURNAL_MAGIC_LEN && memcmp(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) == 0);
    size_t at = JOURNAL_MAGIC_LEN;
    journal_record r;
    char types[16] = {0};
    int n = 0, events = 0;
    while (journal_parse(buf, len, &at, &r) == JOURNAL_READ_RECORD && n < 15) {
        types[n++] = r.type;
        if (r.type == 'H') {
            CHECK(r.time_us == 100);
            CHECK(has(&r, "\"library\":\"test\"") && has(&r, "\"heartbeat_ms\":1000") && has(&r, "\"segment\":0"));
        }
        if (r.type == 'E') {
            vc_event e;
            CHECK(r.time_us == 1000 + events);
            CHECK(journal_decode_event(r.json, r.json_len, r.data, r.data_len, &e) == 0);
            CHECK(e.session == 10 + (uint64_t)events && e.flags == (uint32_t)events && e.turn == 7 && e.protocol_version == 3);
            if (events % 2) {
                CHECK(e.kind == VC_EVENT_DEVICE_AUDIO && e.body_len == 0 && e.device_id_len == 0);
                CHECK(r.data_len == sizeof pcm && memcmp(r.data, pcm, sizeof pcm) == 0 && e.data == r.data);
            } else {
                char want[64];
                int k = snprintf(want, sizeof want, "{\"type\":\"listen\",\"n\":%d}", events);
                CHECK(e.kind == VC_EVENT_DEVICE_MESSAGE && e.body_len == (size_t)k && memcmp(e.body, want, (size_t)k) == 0);
                CHECK(e.device_id_len == 3 && memcmp(e.device_id, "esp", 3) == 0 && e.client_id_len == 0);
                CHECK(r.data_len == 0 && r.data == NULL);
            }
            CHECK(journal_decode_event(r.json, r.json_len - 1, r.data, r.data_len, &e) == -1);
            events++;
        }
        if (r.type == 'D' && n == 5) CHECK(has(&r, "\"digest\":\"abcdef0123456789\"") && has(&r, "\"entries\":12") && has(&r, "\"events\":3"));
        if (r.type == 'Z') CHECK(has(&r, "\"reason\":\"closed\"") && has(&r, "\"digest\":\"0000000000001111\"") && has(&r, "\"events\":5"));
    }
    CHECK_STREQ(types, "HEEEDEEDZ");
    CHECK(at == len);

    /* journal_load (the benchmarks' reader): the events in order, the config, the last digest. */
    journal_file jf;
    CHECK(journal_load(path, &jf, error, sizeof error) == 0);
    CHECK(jf.count == 5 && jf.events[4].time_us == 1004 && jf.events[3].data_len == sizeof pcm);
    CHECK(jf.config && strcmp(jf.config, "{\"heartbeat_ms\":1000}") == 0);
    CHECK(jf.digest == 0x1111);
    journal_file_free(&jf);
    CHECK(journal_load("/nonexistent/journal.vcj", &jf, error, sizeof error) == -1 && jf.events == NULL);

    /* Cut inside the last record: the complete ones still read, then "truncated". */
    for (size_t cut = len - 1; cut > len - 30; cut--) {
        size_t p = JOURNAL_MAGIC_LEN;
        int rc, records = 0;
        while ((rc = journal_parse(buf, cut, &p, &r)) == JOURNAL_READ_RECORD) records++;
        CHECK(rc == JOURNAL_READ_TRUNCATED && records == 8);
    }
    /* A flipped byte in an event's body: "corrupt" at that record (H E E E D E, then this one). */
    uint8_t *hit = memmem(buf, len, "\"n\":4", 5);
    CHECK(hit != NULL);
    if (hit) hit[4] = '5';
    at = JOURNAL_MAGIC_LEN;
    int rc, records = 0;
    while ((rc = journal_parse(buf, len, &at, &r)) == JOURNAL_READ_RECORD) records++;
    CHECK(rc == JOURNAL_READ_CORRUPT && records == 6);
    free(buf);
    remove_all();
}

static void rotation(void) {
    /* An old run's two files, then a run whose segments roll over after ~1 KB each. */
    char old[2][512];
    for (int i = 0; i < 2; i++) {
        snprintf(old[i], sizeof old[i], "%s/journal-19700101T000000.000000Z-1-%04d.vcj", dir, i);
        FILE *f = fopen(old[i], "wb");
        fputs(JOURNAL_MAGIC, f);
        fclose(f);
    }
    journal_options o = {dir, 1024, 3, 2, NULL};
    o.max_bytes = 1024;
    char error[256];
    journal *j = journal_open(&o, 0, error, sizeof error);
    CHECK(j != NULL);
    char payload[400];
    memset(payload, 'a', sizeof payload);
    int stopped_at = -1;
    for (int i = 0; i < 40 && stopped_at < 0; i++) {
        int due = journal_record_event(j, i, "{\"type\":\"x\"}", 12, payload, sizeof payload);
        if (due < 0) stopped_at = i;
        else if (due) journal_digest(j, i, (uint64_t)i, (uint64_t)i);
    }
    CHECK(stopped_at > 0);
    CHECK(journal_error(j) && strstr(journal_error(j), "recording stopped"));
    uint64_t recorded = journal_events(j);
    journal_close(j, 99, 0, 0);

    char names[64][256];
    int n = count_files(names, 64);
    CHECK(n == 3);   /* keep 3: both files of the old run deleted, the new run's 3 segments kept */
    for (int i = 0; i < n; i++) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "-%04d.vcj", i);
        CHECK(strstr(names[i], suffix) != NULL && strstr(names[i], "19700101") == NULL);
    }
    /* Segments chain: each later header carries the digest and event count the previous one ended
     * with; the last ends "full". Every event recorded is in exactly one segment. */
    uint64_t events = 0;
    char last_reason[32] = "";
    for (int i = 0; i < n; i++) {
        char path[sizeof dir + 300];
        snprintf(path, sizeof path, "%s/%.255s", dir, names[i]);
        size_t len = 0;
        uint8_t *buf = slurp(path, &len);
        size_t at = JOURNAL_MAGIC_LEN;
        journal_record r;
        int rc;
        while ((rc = journal_parse(buf, len, &at, &r)) == JOURNAL_READ_RECORD) {
            if (r.type == 'H' && i > 0) {
                char want[64];
                snprintf(want, sizeof want, "\"events\":%llu", (unsigned long long)events);
                CHECK(has(&r, want));
                snprintf(want, sizeof want, "\"segment\":%d", i);
                CHECK(has(&r, want));
            }
            if (r.type == 'E') events++;
            if (r.type == 'Z') {
                const char *p = memmem(r.json, r.json_len, "\"reason\":\"", 10);
                snprintf(last_reason, sizeof last_reason, "%.*s", p ? (int)strcspn(p + 10, "\"") : 0, p ? p + 10 : "");
            }
        }
        CHECK(rc == JOURNAL_READ_END);
        CHECK_STREQ(last_reason, i < n - 1 ? "rotated" : "full");
        free(buf);
    }
    CHECK(events == recorded);
    remove_all();
}

/* The fields an admin request and a device's token add to an event: encoded after the client id,
 * decoded to the same bytes (a run with admin requests and token bindings replays as it ran). */
static void request_path_token(void) {
    const char *body = "{\"text\":\"hi\"}";
    vc_event admin = {.kind = VC_EVENT_ADMIN_REQUEST, .flags = VC_EVENT_POST, .request = (1ull << 40) + 3,
                      .path = "/api/v1/devices/x/say", .path_len = 21, .body = body, .body_len = strlen(body)};
    vc_event device = {.kind = VC_EVENT_DEVICE_CONNECTED, .session = 9, .device_id = "esp", .device_id_len = 3,
                       .client_id = "c1", .client_id_len = 2, .token = "tok-story", .token_len = 9};
    const vc_event *in[] = {&admin, &device};
    for (int i = 0; i < 2; i++) {
        uint8_t buf[256];
        size_t n = journal_event_size(in[i]);
        CHECK(n <= sizeof buf && n == JOURNAL_EVENT_HEAD + in[i]->body_len + in[i]->device_id_len + in[i]->client_id_len +
                                          in[i]->path_len + in[i]->token_len);
        journal_encode_event(in[i], buf);
        vc_event e;
        CHECK(journal_decode_event(buf, n, NULL, 0, &e) == 0);
        CHECK(e.kind == in[i]->kind && e.flags == in[i]->flags && e.request == in[i]->request && e.session == in[i]->session);
        CHECK(e.path_len == in[i]->path_len && (!e.path_len || memcmp(e.path, in[i]->path, e.path_len) == 0));
        CHECK(e.token_len == in[i]->token_len && (!e.token_len || memcmp(e.token, in[i]->token, e.token_len) == 0));
        CHECK(e.body_len == in[i]->body_len && (!e.body_len || memcmp(e.body, in[i]->body, e.body_len) == 0));
        CHECK(e.client_id_len == in[i]->client_id_len && (!e.client_id_len || memcmp(e.client_id, in[i]->client_id, e.client_id_len) == 0));
        CHECK(journal_decode_event(buf, n - 1, NULL, 0, &e) == -1);
    }
}

static void private_directory(void) {
    char sub[sizeof dir + 16];
    snprintf(sub, sizeof sub, "%s/new", dir);
    journal_options o = {sub, 1 << 20, 4, 3, NULL};
    char error[256];
    journal *j = journal_open(&o, 0, error, sizeof error);
    CHECK(j != NULL);
    struct stat st;
    CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);
    char path[1024];
    snprintf(path, sizeof path, "%s", journal_path(j));
    journal_close(j, 1, 0, 0);
    unlink(path);
    rmdir(sub);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    private_directory();
    round_trip();
    request_path_token();
    rotation();
    rmdir(dir);
    return CHECK_DONE();
}
