/* Drives libvoicecore's streaming splitter over a corpus file of replies separated by 0x1E
 * (record separator), pushing LLM-sized deltas (3..24 bytes, deterministic) and flushing at the
 * end of each reply. Prints one JSON line: throughput of an untimed pass, then per-push latency
 * percentiles from a pass that times every push (clock_gettime, overhead included).
 *   usage: bench_splitter CORPUS [CPU] */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <voicecore.h>

#include "deltas.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static long pass(vc_splitter *s, const char *buf, size_t len, float *lat, size_t *npush) {
    long segments = 0;
    size_t i = 0, k = 0, step = 0;
    vc_segment seg;
    while (i < len) {
        const char *end = memchr(buf + i, 0x1E, len - i);
        size_t stop = end ? (size_t)(end - buf) : len;
        while (i < stop) {
            size_t n = next_delta(&step, stop - i);
            if (lat) {
                double t0 = now_ns();
                vc_splitter_push(s, buf + i, n);
                lat[k++] = (float)(now_ns() - t0);
            } else {
                vc_splitter_push(s, buf + i, n);
            }
            while (vc_splitter_next(s, &seg) == 1) segments++;
            i += n;
        }
        vc_splitter_flush(s);
        while (vc_splitter_next(s, &seg) == 1) segments++;
        i = stop + 1;
    }
    if (npush) *npush = k;
    return segments;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: bench_splitter CORPUS [CPU]\n"); return 2; }
    if (argc > 2) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(atoi(argv[2]), &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(len);
    if (!buf || fread(buf, 1, len, f) != len) { fprintf(stderr, "read failed\n"); return 1; }
    fclose(f);

    vc_splitter *s = NULL;
    if (vc_splitter_new(&s, NULL) != VC_OK) { fprintf(stderr, "%s\n", vc_splitter_errmsg(s)); return 1; }
    pass(s, buf, len, NULL, NULL); /* warm-up */
    enum { MAX_PASSES = 100 };
    double times[MAX_PASSES], spent = 0;
    long segments = 0;
    int passes = 0;
    while (passes < MAX_PASSES && (passes < 5 || spent < 1e9)) {
        double t0 = now_ns();
        segments = pass(s, buf, len, NULL, NULL);
        times[passes] = now_ns() - t0;
        spent += times[passes++];
    }
    qsort(times, (size_t)passes, sizeof times[0], cmp_double);
    double best = times[0], median = times[passes / 2];
    float *lat = malloc(sizeof(float) * (len / 3 + 16));
    size_t n = 0;
    pass(s, buf, len, lat, &n);
    qsort(lat, n, sizeof(float), cmp);
    printf("{\"bytes\": %zu, \"seconds\": %.6f, \"mb_per_s\": %.1f, \"passes\": %d, \"median_mb_per_s\": %.1f, "
           "\"segments\": %ld, \"pushes\": %zu, \"p50_us\": %.3f, \"p99_us\": %.3f, \"max_us\": %.3f}\n",
           len, best / 1e9, len / (best / 1e9) / 1e6, passes, len / (median / 1e9) / 1e6, segments, n, lat[n / 2] / 1e3,
           lat[(size_t)(n * 0.99)] / 1e3, lat[n - 1] / 1e3);
    free(lat);
    free(buf);
    vc_splitter_free(s);
    return 0;
}
