#include "hub_latency.h"

void hub_hop_written(metrics *m, logger *log, hub_turn_trace *t, hub_hop hop, uint64_t session, int64_t turn,
                     int64_t origin_us, int64_t now_us) {
    if (hop == HUB_HOP_NONE || hop >= HUB_HOP_COUNT || origin_us <= 0) return;
    int64_t took = now_us - origin_us;
    if (took < 0) took = 0;
    histogram_observe(&m->hub_hops[hop], (double)took / 1e6);
    if (!t) return;
    switch (hop) {
    case HUB_HOP_UPLINK:
        t->uplink_us = took;
        break;
    case HUB_HOP_ASSISTANT_JOB:
        t->turn_uplink_us = t->uplink_us;
        t->assistant_job_us = took;
        t->have_assistant_job = 1;
        t->have_tts_job = 0;
        t->turn = turn;
        break;
    case HUB_HOP_TTS_JOB:
        if (!t->have_assistant_job || turn != t->turn) break;
        t->tts_job_us = took;
        t->have_tts_job = 1;
        break;
    case HUB_HOP_FIRST_FRAME:
        if (t->have_assistant_job && t->have_tts_job) {
            int64_t total = t->turn_uplink_us + t->assistant_job_us + t->tts_job_us + took;
            histogram_observe(&m->hub_hops[HUB_HOP_NONE], (double)total / 1e6);
            char name[32];
            snprintf(name, sizeof name, "s%llu", (unsigned long long)session);
            log_event(log, LOG_INFO, "turn.hub_latency",
                      json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "session", name, "turn", (json_int_t)t->turn, "uplink_us",
                                (json_int_t)t->turn_uplink_us, "assistant_job_us", (json_int_t)t->assistant_job_us, "tts_job_us",
                                (json_int_t)t->tts_job_us, "first_frame_us", (json_int_t)took, "total_us", (json_int_t)total));
        }
        t->have_assistant_job = t->have_tts_job = 0;
        break;
    default:
        break;
    }
}
