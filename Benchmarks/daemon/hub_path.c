/* The Coordinator through the C ABI exactly as voicecored's hub.c drives it, on a recorded
 * journal: vc_coordinator_handle with the typed vc_event the daemon builds, then every effect
 * drained and read as carry_out reads it (its kind, ids, numbers and body), then every log line
 * drained, and a /metrics scrape (vc_coordinator_counters + vc_coordinator_tally) every 10,000
 * events. A VCJRNL1 journal (recorded by the daemon of ABI 2, JSON events) is converted to typed
 * events before timing (recorded_events.h), so the same recording measures the ABI 2 path (with
 * the benchmark of that commit) and this one. Prints CPU time per event and events/s, the least
 * over the passes (the machine may be shared), and whether the recorded digest was reproduced.
 *
 *     voicecored_bench_hub JOURNAL_FILE [passes]
 */
#include "recorded_events.h"
#include <time.h>

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t sink;

/* One /metrics scrape's worth of reading the core's counters and counts. */
static void scrape(vc_coordinator *c, int64_t now) {
    vc_counters counters;
    vc_coordinator_counters(c, now, &counters);
    sink += counters.jobs_reconciled;
    vc_tally row;
    for (int table = VC_TALLY_EVENTS; table <= VC_TALLY_STAGES; table++)
        for (size_t i = 0; vc_coordinator_tally(c, table, i, &row) == 1; i++) sink += row.count;
}

/* What carry_out reads of an effect before handing it on. */
static void carry_out(const vc_effect *e) {
    switch (e->kind) {
    case VC_EFFECT_DEVICE_SEND:
    case VC_EFFECT_DEVICE_AUDIO_END:
    case VC_EFFECT_DEVICE_CLOSE:
    case VC_EFFECT_WORKER_SEND:
        sink += e->session + e->worker + e->body_len + (uint64_t)e->job_kind + e->flags;
        break;
    case VC_EFFECT_DEVICE_AUDIO:
    case VC_EFFECT_WORKER_AUDIO:
        sink += e->session + e->worker + e->turn + e->data_len + e->body_len;
        break;
    default:
        sink += e->timer + (uint64_t)e->at_us;
    }
}

static double pass(const recording *rec, size_t *lines_out, uint64_t *digest) {
    vc_coordinator *c = NULL;
    if (vc_coordinator_new(&c, rec->config) != VC_OK) {
        fprintf(stderr, "config rejected: %s\n", vc_coordinator_errmsg(c));
        exit(1);
    }
    size_t lines = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < rec->n; i++) {
        vc_coordinator_handle(c, &rec->events[i].e, rec->events[i].time_us);
        vc_effect e;
        while (vc_coordinator_next_effect(c, &e) == 1) carry_out(&e);
        const char *line;
        size_t len;
        while (vc_coordinator_next_log(c, &line, &len) == 1) lines++;
        if (i % 10000 == 9999) scrape(c, rec->events[i].time_us);  /* far more often than a real scrape */
    }
    double t = cpu_now() - t0;
    vc_coordinator_digest(c, digest, NULL);
    vc_coordinator_free(c);
    *lines_out = lines;
    return t;
}

int main(int argc, char **argv) {
    recording rec;
    int passes, status = recording_from_args(argc, argv, &rec, &passes);
    if (status) return status;
    double best = 1e9;
    size_t lines = 0;
    uint64_t digest = 0;
    for (int i = 0; i < passes; i++) {
        double t = pass(&rec, &lines, &digest);
        if (t < best) best = t;
    }
    printf("{\"abi\":%d,\"journal\":%d,\"events\":%zu,\"log_lines\":%zu,\"passes\":%d,\"ns_per_event\":%.0f,\"events_per_s\":%.0f,"
           "\"digest_reproduced\":%s}\n",
           VC_ABI_VERSION, rec.version, rec.n, lines, passes, best / (double)rec.n * 1e9, (double)rec.n / best,
           digest == rec.digest ? "true" : "false");
    return (int)(sink & 0);
}
