/* What the journal costs the daemon per event, beside what the core itself costs: a recorded
 * journal's events are handed to a fresh Coordinator exactly as hub.c does (vc_coordinator_handle,
 * then draining effects and log lines), and, in passes of their own, recorded again (journal_event,
 * a digest record when due, to a real file in /tmp); the least CPU time per event over the passes
 * (the machine may be shared), and the bytes written.
 * The daemon writes the journal's buffer once per loop iteration: "flush each event" is the worst
 * case (one event per iteration: a write(2) per event), "buffered" the best (the 1 MiB buffer
 * written when full, as under heavy load where an iteration carries many events).
 *
 *     voicecored_bench_journal JOURNAL_FILE [passes]
 */
#include "recorded_events.h"
#include <time.h>
#include <unistd.h>

typedef recorded event;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drain(vc_coordinator *c) {
    vc_effect e;
    while (vc_coordinator_next_effect(c, &e) == 1) {}
    const char *line;
    size_t len;
    while (vc_coordinator_next_log(c, &line, &len) == 1) {}
}

static double core_pass(const char *config, const event *events, size_t n, uint64_t *digest_out) {
    vc_coordinator *c = NULL;
    if (vc_coordinator_new(&c, config) != VC_OK) {
        fprintf(stderr, "config rejected: %s\n", vc_coordinator_errmsg(c));
        exit(1);
    }
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++) {
        vc_coordinator_handle(c, &events[i].e, events[i].time_us);
        drain(c);
    }
    double t = cpu_now() - t0;
    vc_coordinator_digest(c, digest_out, NULL);
    vc_coordinator_free(c);
    return t;
}

/* The journal's own work for the same events (it does not depend on what the core does): record
 * each, a digest record when due (the digest call itself is a field read, measured in the core's
 * share), and the write policy. Returns CPU seconds; *written gets the bytes on disk. */
static double journal_pass(const event *events, size_t n, const char *dir, int flush_each, uint64_t *written) {
    journal_options o = {dir, 64ull << 20, 1000, 64, "{\"daemon\":\"bench\"}"};
    char error[512];
    journal *j = journal_open(&o, events[0].time_us, error, sizeof error);
    if (!j) {
        fprintf(stderr, "%s\n", error);
        exit(1);
    }
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++) {
        const event *e = &events[i];
        if (journal_event(j, e->time_us, &e->e) > 0) journal_digest(j, e->time_us, i, i);
        if (flush_each) journal_flush(j);
    }
    journal_close(j, events[n - 1].time_us, 0, 0);
    double t = cpu_now() - t0;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "du -sb %s", dir);
    FILE *p = popen(cmd, "r");
    unsigned long long bytes = 0;
    if (p && fscanf(p, "%llu", &bytes) == 1) *written = bytes;
    if (p) pclose(p);
    snprintf(cmd, sizeof cmd, "rm -f %s/journal-*.vcj", dir);
    if (system(cmd) != 0) {}
    return t;
}

int main(int argc, char **argv) {
    recording rec;
    int passes, status = recording_from_args(argc, argv, &rec, &passes);
    if (status) return status;
    event *events = rec.events;
    size_t n = rec.n;
    char *config = rec.config;
    uint64_t recorded_digest = rec.digest, payload = rec.bytes;
    char dir[] = "/tmp/vcjournal-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    double core = 1e9, each = 1e9, buffered = 1e9;
    uint64_t written = 0, digest = 0;
    int reproduced = 1;
    for (int i = 0; i < passes; i++) {
        double a = core_pass(config, events, n, &digest);
        reproduced &= digest == recorded_digest;
        double b = journal_pass(events, n, dir, 1, &written);
        double c = journal_pass(events, n, dir, 0, &written);
        if (a < core) core = a;
        if (b < each) each = b;
        if (c < buffered) buffered = c;
    }
    rmdir(dir);
    printf("{\"events\":%zu,\"payload_bytes\":%llu,\"journal_bytes\":%llu,\"passes\":%d,\"core_ns_per_event\":%.0f,"
           "\"journal_ns_per_event_flush_each\":%.0f,\"journal_ns_per_event_buffered\":%.0f,"
           "\"overhead_percent_flush_each\":%.1f,\"overhead_percent_buffered\":%.1f,\"digest_reproduced\":%s}\n",
           n, (unsigned long long)payload, (unsigned long long)written, passes, core / (double)n * 1e9, each / (double)n * 1e9,
           buffered / (double)n * 1e9, each / core * 100, buffered / core * 100, reproduced ? "true" : "false");
    free(config);
    free(events);
    free(rec.file);
    return 0;
}
