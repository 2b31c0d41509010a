/* The downlink playout of one device session: TTS PCM in, Opus frames out at real-time pace.
 *
 * Pacing: `play_clock` is the moment the audio already sent finishes playing on the device. A
 * frame may go out while the device holds less than `prebuffer_frames` frames of unplayed
 * audio, so the device never starves yet never holds more than a few frames — an abort is
 * heard within about prebuffer × frame duration. Markers travel in band with the frames, each
 * with its text (the frame the core made for that point: sentence_start, tts stop): a sentence
 * marker comes due when the first frame of its sentence reaches the head of the queue; an `end`
 * marker (the turn's last audio) right after its last frame.
 *
 * Encoding is lazy: PCM waits in the queue and a frame is encoded only when it comes due, so the
 * first frame of a reply goes out after one encode however long the TTS chunk is, the encoder's
 * work is spread over the playback, and an abort throws away PCM nobody encoded.
 *
 * Rewind: the last frames sent are kept (as many as the device can hold, and the one it may be
 * playing), so that a device told to drop what it holds (a paused reply) gets them again first
 * when the reply resumes. */
#ifndef VOICECORED_PLAYOUT_H
#define VOICECORED_PLAYOUT_H
#include "opus_codec.h"
#include <stddef.h>
#include <stdint.h>

/* PLAYOUT_PCM items live only inside the queue; playout_next hands out the other kinds. */
typedef enum { PLAYOUT_FRAME, PLAYOUT_SENTENCE, PLAYOUT_END, PLAYOUT_PCM } playout_kind;

typedef struct playout_item {
    struct playout_item *next;
    playout_kind kind;
    int64_t turn;
    size_t len;          /* frame: Opus bytes; markers: text bytes (NUL-terminated too); pcm: bytes */
    size_t taken;        /* pcm: samples already moved into the residual */
    uint8_t data[];
} playout_item;

typedef struct playout {
    downlink_encoder encoder;
    int prebuffer_frames;
    int64_t frame_us;
    int64_t play_clock_us;
    size_t max_frames;       /* queued frames beyond this are refused (a runaway producer) */
    playout_item *head, *tail;
    size_t frames;           /* frames queued (most not encoded yet) */
    size_t bytes;            /* bytes queued */
    size_t samples;          /* PCM samples queued and in the residual, not yet encoded */
    size_t ends;             /* end markers queued (each pads its turn's last partial frame) */
    int16_t *residual;       /* samples not yet making a whole frame */
    int residual_n;
    int64_t residual_turn;
    uint64_t frames_encoded;
    /* The frames sent last, oldest first, each with the moment it finishes playing on the
     * device (play_clock after it): what a rewind sends again. */
    playout_item **sent;
    int64_t *sent_end_us;
    int sent_n, sent_max;
    size_t rewound;          /* sent frames queued again by playout_rewind, not sent yet */
} playout;

int playout_init(playout *p, int sample_rate, int frame_ms, int prebuffer_frames, size_t max_frames,
                 int complexity, int bitrate);
void playout_free(playout *p);

/* Queues PCM16 mono of `rate` Hz for `turn`; when marker (a NUL-terminated text) is not NULL a
 * sentence marker with it is placed before the first frame holding these samples. Returns 0, or
 * -1 when the queue bound is hit (nothing further is queued) or encoding fails. */
int playout_push(playout *p, int64_t turn, const int16_t *pcm, size_t n, int rate, const char *marker);
/* The turn's audio is complete: queues the end marker with its text (NULL: none); the last
 * partial frame is padded. */
int playout_end(playout *p, int64_t turn, const char *marker);
/* Audio or markers still to go out. */
int playout_pending(const playout *p);
/* Drops everything queued and resets the encoder (barge-in / abort). Returns frames dropped. */
size_t playout_flush(playout *p);
/* The device dropped the audio it held at now_us: the frames of the last turn sent that it may not
 * have played by then (one frame of margin for its own buffering) are queued again ahead of
 * everything else, and the device counts as empty. Returns the frames queued again. */
size_t playout_rewind(playout *p, int64_t now_us);

/* The next item due at now_us, removed from the queue (free() it), or NULL; when NULL and the
 * queue is not empty, *wait_us says how long until the next frame comes due (0: nothing will
 * come due until more is pushed, e.g. a partial frame waiting for PCM). Frames are encoded here. */
playout_item *playout_next(playout *p, int64_t now_us, int64_t *wait_us);

#endif
