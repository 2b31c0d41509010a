/* Hub-added latency on a turn's critical path, measured by the daemon itself: for each hop, the
 * time from reading the network message that caused it to writing the resulting message to its
 * socket. Worker time (between the hub writing a job and reading its output) is excluded by
 * construction. Per turn the hops are summed — end of speech → first audio frame out — and logged
 * as a `turn.hub_latency` line; each hop also feeds voicecored_hub_hop_seconds in /metrics.
 *
 * Hops:
 *   uplink        a device audio frame read → its PCM written to the ASR worker (the last one
 *                 before the turn's assistant job counts for the turn: the ASR can only hear the
 *                 end of speech once that frame reached it)
 *   assistant_job the ASR final read → the assistant job written
 *   tts_job       the assistant text that completed the first segment read → its TTS job written
 *   first_frame   the first TTS audio read → the first Opus frame written to the device
 */
#ifndef VOICECORED_HUB_LATENCY_H
#define VOICECORED_HUB_LATENCY_H
#include "log.h"
#include "metrics.h"
#include <stdint.h>

typedef struct hub_turn_trace {
    int64_t uplink_us;              /* the latest uplink hop */
    int64_t turn_uplink_us, assistant_job_us, tts_job_us;   /* the turn's hops */
    int64_t turn;
    int have_assistant_job, have_tts_job;
    int64_t first_frame_origin_us;   /* nonzero: the next frame sent is the reply's first */
} hub_turn_trace;

/* A message tagged with `hop` has just been written; origin_us is when its cause was read. The
 * hop's time goes into m; t is the trace of the session it belongs to (NULL: none open), whose
 * turn total is logged to log once the first frame of the reply is out. */
void hub_hop_written(metrics *m, logger *log, hub_turn_trace *t, hub_hop hop, uint64_t session, int64_t turn,
                     int64_t origin_us, int64_t now_us);

#endif
