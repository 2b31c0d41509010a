/* The Coordinator through the C ABI exactly as voicecored's hub.c drives it, on a recorded
 * journal: vc_coordinator_handle, then every effect drained and parsed (jansson, as carry_out
 * does), then every log line drained; and what /metrics costs on top: the core's counts read
 * (vc_coordinator_tally) once per scrape. Prints CPU time per event and events/s, the least over
 * the passes (the machine may be shared).
 *
 *     voicecored_bench_hub JOURNAL_FILE [passes]
 */
#include "journal.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <voicecore.h>

typedef journal_record event;

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t sink;

/* One /metrics scrape's worth of reading the core's counts. */
static void scrape(vc_coordinator *c) {
    vc_tally row;
    for (int table = VC_TALLY_EVENTS; table <= VC_TALLY_STAGES; table++)
        for (size_t i = 0; vc_coordinator_tally(c, table, i, &row) == 1; i++) sink += row.count;
}

static double pass(const char *config, const event *events, size_t n, size_t *lines_out) {
    vc_coordinator *c = NULL;
    if (vc_coordinator_new(&c, config) != VC_OK) {
        fprintf(stderr, "config rejected: %s\n", vc_coordinator_errmsg(c));
        exit(1);
    }
    size_t lines = 0;
    double t0 = cpu_now();
    for (size_t i = 0; i < n; i++) {
        vc_coordinator_handle(c, events[i].json, events[i].json_len, events[i].data, events[i].data_len, events[i].time_us);
        vc_effect e;
        while (vc_coordinator_next_effect(c, &e) == 1) {
            json_t *effect = json_loadb(e.json, e.json_len, 0, NULL);
            sink += json_string_length(json_object_get(effect, "type"));
            json_decref(effect);
        }
        const char *line;
        size_t len;
        while (vc_coordinator_next_log(c, &line, &len) == 1) {
            lines++;
            sink += len;
        }
        if (i % 10000 == 9999) scrape(c);  /* a scrape every 10,000 events: far more often than a real one */
    }
    double t = cpu_now() - t0;
    vc_coordinator_free(c);
    *lines_out = lines;
    return t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s JOURNAL_FILE [passes]\n", argv[0]);
        return 2;
    }
    int passes = argc > 2 ? atoi(argv[2]) : 5;
    journal_file jf;
    char error[512];
    if (journal_load(argv[1], &jf, error, sizeof error) != 0) {
        fprintf(stderr, "%s\n", error);
        return 1;
    }
    const event *events = jf.events;
    size_t n = jf.count;
    const char *config = jf.config;
    double best = 1e9;
    size_t lines = 0;
    for (int i = 0; i < passes; i++) {
        double t = pass(config, events, n, &lines);
        if (t < best) best = t;
    }
    printf("{\"abi\":%d,\"metrics\":\"%s\",\"events\":%zu,\"log_lines\":%zu,\"passes\":%d,\"ns_per_event\":%.0f,\"events_per_s\":%.0f}\n",
           VC_ABI_VERSION,
           "vc_coordinator_tally per scrape",
           n, lines, passes, best / (double)n * 1e9, (double)n / best);
    journal_file_free(&jf);
    return (int)(sink & 0);
}
