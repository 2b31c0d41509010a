/* Counters, gauges and histograms rendered in the Prometheus text format at /metrics. The
 * daemon counts what it sees itself (connections, bytes, frames, errors, hub time); what the
 * Coordinator decided (events by name, turns by outcome, turn stages, placement and
 * reconciliation counters) comes from the counts the core keeps (vc_coordinator_tally,
 * vc_coordinator_health), read at render time. */
#ifndef VOICECORED_METRICS_H
#define VOICECORED_METRICS_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    ERR_MALFORMED_JSON, ERR_BAD_MESSAGE, ERR_BAD_FRAME, ERR_BAD_OPUS, ERR_OVERSIZED, ERR_UNAUTHORIZED,
    ERR_SEND_QUEUE_OVERFLOW, ERR_CONNECTION_LIMIT, ERR_CORE_REJECTED, ERR_PLAYOUT_OVERFLOW,
    ERR_HELLO_TIMEOUT, ERR_UNKNOWN_PEER, ERR_UPLINK_FLOOD, ERR_KIND_COUNT
} error_kind;

typedef enum { PEER_DEVICE, PEER_WORKER, PEER_KIND_COUNT } peer_kind;

/* The hops of hub latency (hub_latency.h); HUB_HOP_NONE's row is the per-turn total. */
typedef enum { HUB_HOP_NONE, HUB_HOP_UPLINK, HUB_HOP_ASSISTANT_JOB, HUB_HOP_TTS_JOB, HUB_HOP_FIRST_FRAME, HUB_HOP_COUNT } hub_hop;
const char *hub_hop_name(hub_hop hop);

#define HISTOGRAM_BUCKETS 14
typedef struct histogram {
    uint64_t counts[HISTOGRAM_BUCKETS + 1];   /* last: +Inf */
    double sum;
    uint64_t count;
} histogram;

#define METRICS_MAX_NAMES 96
typedef struct named_counter {
    char name[48];
    uint64_t value;
} named_counter;

/* LLM usage per agent and model (vc_coordinator_tally VC_TALLY_USAGE). */
#define METRICS_MAX_USAGE 64
typedef struct usage_row {
    char agent[72];
    char model[136];
    uint64_t tokens, turns, estimated;
} usage_row;

#define METRICS_MAX_STAGES 16
typedef struct stage_histogram {
    char name[32];
    histogram h;
} stage_histogram;

typedef struct metrics {
    uint64_t connections_total[PEER_KIND_COUNT];
    int64_t connected[PEER_KIND_COUNT];
    uint64_t bytes_in[PEER_KIND_COUNT], bytes_out[PEER_KIND_COUNT];
    uint64_t messages_in[PEER_KIND_COUNT], messages_out[PEER_KIND_COUNT];
    uint64_t opus_decoded, opus_encoded, frames_dropped_on_flush, frames_rewound;
    uint64_t errors[ERR_KIND_COUNT];
    uint64_t http_requests;
    histogram hub_seconds;            /* one event through the Coordinator, effects included */
    /* hub_latency.h: per hop, and [0] the per-turn total (end of speech → first frame out). */
    histogram hub_hops[HUB_HOP_COUNT];
    /* The event loop's own health: how long one iteration works between two polls, and how many
     * messages arrived in reads spread over more than one iteration (each waited a whole
     * iteration or more for its remainder). */
    histogram loop_busy;
    uint64_t messages_split[PEER_KIND_COUNT];
} metrics;

/* Counters the Coordinator keeps (vc_coordinator_health "counters", per worker kind where
 * indexed, and vc_coordinator_tally); read at render time, not re-parsed from log lines. */
#define METRICS_KINDS 4
typedef struct metrics_core {
    int present;
    uint64_t placement_failures[METRICS_KINDS], refusals[METRICS_KINDS];
    int degraded[METRICS_KINDS];
    uint64_t jobs_reconciled, leaks_marked, recycles, progress_timeouts, heartbeat_timeouts;
    named_counter core_events[METRICS_MAX_NAMES];      /* log entries by kind (seen ones) */
    named_counter turn_outcomes[METRICS_MAX_NAMES];    /* turn.ended by reason */
    named_counter workers_by_kind[METRICS_MAX_NAMES];  /* worker.* entries by the part after "worker." */
    /* turn.mark: seconds from the user falling silent to each mark (asr_final, first_delta, ...). */
    stage_histogram stages[METRICS_MAX_STAGES];
    usage_row usage[METRICS_MAX_USAGE];
    int usage_rows;
} metrics_core;
extern const char *const metrics_kind_names[METRICS_KINDS];

/* Gauges computed at render time by whoever owns the state. */
typedef struct metrics_gauges {
    uint64_t playout_frames_queued;
    uint64_t send_queue_bytes;
    uint64_t timers_pending;
    int draining;
    /* Admission (admission.h) and the allocator. */
    uint64_t pending_connections;
    uint64_t admission_refused, admission_evicted, header_timeouts;
    uint64_t memory_trims;
    metrics_core core;
} metrics_gauges;

void histogram_observe(histogram *h, double seconds);
void named_counter_add(named_counter *table, const char *name, uint64_t n);
/* Renders into a malloc'd buffer (caller frees); *len receives its length. */
char *metrics_render(const metrics *m, const metrics_gauges *g, size_t *len);

#endif
