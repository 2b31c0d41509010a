/* The downlink playout: real Opus frames of the negotiated duration, real-time pacing with a
 * small pre-buffer, in-band sentence and end markers, flush on abort. */
#include "check.h"
#include "opus_codec.h"
#include "playout.h"
#include <math.h>
#include <stdlib.h>

static void tone(int16_t *pcm, size_t n, int rate) {
    for (size_t i = 0; i < n; i++) pcm[i] = (int16_t)(8000.0 * sin(2.0 * M_PI * 440.0 * (double)i / rate));
}

int main(void) {
    playout p;
    CHECK(playout_init(&p, 24000, 60, 3, 1000, 5, 0) == 0);
    CHECK(p.encoder.frame_samples == 1440);
    int16_t pcm[24000];
    tone(pcm, 24000, 24000);

    /* One second and a bit: 16 whole frames + a 100-sample residual. */
    CHECK(playout_push(&p, 1, pcm, 1440 * 16 + 100, 24000, "Hello there.") == 0);
    CHECK(p.frames == 16);
    CHECK(playout_end(&p, 1, "{\"type\":\"tts\",\"state\":\"stop\"}") == 0);
    CHECK(p.frames == 17);  /* the residual, padded */

    int64_t now = 1000000, wait = 0;
    playout_item *it = playout_next(&p, now, &wait);
    CHECK(it && it->kind == PLAYOUT_SENTENCE && !strcmp((char *)it->data, "Hello there."));
    free(it);
    /* The pre-buffer: three frames go at once, the fourth waits for the device to play one. */
    for (int i = 0; i < 3; i++) {
        it = playout_next(&p, now, &wait);
        CHECK(it && it->kind == PLAYOUT_FRAME && it->len > 0);
        free(it);
    }
    it = playout_next(&p, now, &wait);
    CHECK(it == NULL && wait == 60000);
    it = playout_next(&p, now + 60000, &wait);
    CHECK(it && it->kind == PLAYOUT_FRAME);
    free(it);

    /* The frames decode to 60 ms of audio each. */
    uplink_decoder d;
    CHECK(uplink_decoder_init(&d) == 0);
    it = playout_next(&p, now + 120000, &wait);
    CHECK(it != NULL);
    int16_t out[UPLINK_MAX_SAMPLES];
    if (it) CHECK(uplink_decoder_decode(&d, it->data, it->len, out) == 960);  /* 60 ms at 16 kHz */
    free(it);
    uint8_t garbage[7] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(uplink_decoder_decode(&d, garbage, sizeof garbage, out) < 0);
    uplink_decoder_free(&d);

    /* Drain the rest in real time; the end marker follows the last frame. */
    int frames = 0, ends = 0;
    int64_t t = now + 120000;
    while (p.head) {
        it = playout_next(&p, t, &wait);
        if (!it) { t += wait; continue; }
        if (it->kind == PLAYOUT_FRAME) frames++;
        if (it->kind == PLAYOUT_END) { ends++; CHECK(it->turn == 1 && p.head == NULL && !strcmp((char *)it->data, "{\"type\":\"tts\",\"state\":\"stop\"}")); }
        free(it);
    }
    CHECK(frames == 17 - 5 && ends == 1);

    /* Flush drops everything at once. */
    CHECK(playout_push(&p, 2, pcm, 1440 * 10, 24000, NULL) == 0);
    CHECK(playout_flush(&p) == 10 && p.head == NULL && p.frames == 0);

    /* Another rate is resampled to the encoder's: 16 kHz × 0.6 s = 0.6 s at 24 kHz = 10 frames. */
    CHECK(playout_push(&p, 3, pcm, 9600, 16000, NULL) == 0 && p.frames == 10);
    playout_flush(&p);

    /* The bound refuses a runaway producer. */
    CHECK(playout_push(&p, 4, pcm, 24000, 24000, NULL) == 0);  /* 16 frames */
    playout q;
    CHECK(playout_init(&q, 24000, 60, 3, 10, 5, 0) == 0);
    CHECK(playout_push(&q, 1, pcm, 24000, 24000, NULL) < 0 && q.frames == 0);
    playout_free(&q);
    playout_free(&p);

    /* 20 ms uplink frames decode to 320 samples. */
    downlink_encoder e;
    CHECK(downlink_encoder_init(&e, 16000, 20, 5, 0) == 0);
    uint8_t packet[OPUS_MAX_PACKET];
    int n = downlink_encoder_encode(&e, pcm, packet, sizeof packet);
    CHECK(n > 0);
    CHECK(uplink_decoder_init(&d) == 0);
    CHECK(uplink_decoder_decode(&d, packet, (size_t)n, out) == 320);
    uplink_decoder_free(&d);
    downlink_encoder_free(&e);

    /* Encoding is lazy: ten seconds queued cost nothing until a frame comes due; the first frame
     * of a reply costs one encode; an abort drops PCM nobody encoded. */
    {
        playout l;
        CHECK(playout_init(&l, 24000, 60, 3, 0, 5, 0) == 0);
        for (int i = 0; i < 10; i++) CHECK(playout_push(&l, 7, pcm, 24000, 24000, i == 0 ? "Long." : NULL) == 0);
        CHECK(l.frames_encoded == 0 && l.frames == 166);
        int64_t w = 0;
        playout_item *m = playout_next(&l, 5000000, &w);
        CHECK(m && m->kind == PLAYOUT_SENTENCE);
        free(m);
        m = playout_next(&l, 5000000, &w);
        CHECK(m && m->kind == PLAYOUT_FRAME && l.frames_encoded == 1 && l.frames == 165);
        free(m);
        CHECK(playout_flush(&l) == 165 && l.frames_encoded == 1 && !playout_pending(&l));

        /* A partial frame waits for more PCM; a sentence marker between chunks is not held back
         * by it; the turn's end pads the last frame. */
        CHECK(playout_push(&l, 8, pcm, 1000, 24000, NULL) == 0);
        m = playout_next(&l, 6000000, &w);
        CHECK(m == NULL && w == 0 && playout_pending(&l));
        CHECK(playout_push(&l, 8, pcm, 1000, 24000, "Next.") == 0);
        m = playout_next(&l, 6000000, &w);
        CHECK(m && m->kind == PLAYOUT_SENTENCE);
        free(m);
        m = playout_next(&l, 6000000, &w);
        CHECK(m && m->kind == PLAYOUT_FRAME);   /* 1440 of the 2000 samples */
        free(m);
        CHECK(playout_end(&l, 8, NULL) == 0 && l.frames == 1);
        m = playout_next(&l, 6000000, &w);
        CHECK(m && m->kind == PLAYOUT_FRAME);   /* the other 560, padded */
        free(m);
        m = playout_next(&l, 6000000, &w);
        CHECK(m && m->kind == PLAYOUT_END && m->turn == 8 && m->len == 0 && !playout_pending(&l) && l.frames == 0);
        free(m);
        playout_free(&l);
    }
    {
        /* Rewind (a paused reply whose device dropped what it held): the frames it may not have
         * played go out again first, byte for byte, then the queue goes on where it was; the end
         * marker still follows the last frame. */
        playout r;
        CHECK(playout_init(&r, 24000, 60, 3, 1000, 5, 0) == 0);
        CHECK(playout_push(&r, 4, pcm, 1440 * 10, 24000, NULL) == 0);
        CHECK(playout_end(&r, 4, NULL) == 0);
        uint8_t sent[10][OPUS_MAX_PACKET];
        size_t sent_len[10];
        int64_t t0 = 7000000, w = 0;
        int n = 0;
        /* Six frames out in real time: at t0 + 180 ms the device has played three (0-2), plays the
         * fourth, holds two. */
        for (int64_t t = t0; n < 6;) {
            playout_item *m = playout_next(&r, t, &w);
            if (!m) { t += w; continue; }
            CHECK(m->kind == PLAYOUT_FRAME && m->len <= OPUS_MAX_PACKET);
            memcpy(sent[n], m->data, m->len);
            sent_len[n++] = m->len;
            free(m);
        }
        int64_t pause_at = t0 + 190000;
        CHECK(r.frames == 4);
        /* Frames 2-5: the one playing, the two held, and one of margin for the device's lag. */
        CHECK(playout_rewind(&r, pause_at) == 4);
        CHECK(r.frames == 8 && r.rewound == 4);
        CHECK(playout_rewind(&r, pause_at) == 0);   /* twice: nothing more to send again */
        CHECK(r.frames == 8);
        /* Resumed half a second later: the device is empty, so three go at once. */
        int64_t t = pause_at + 500000;
        int again = 0, fresh = 0, ends = 0;
        while (playout_pending(&r)) {
            playout_item *m = playout_next(&r, t, &w);
            if (!m) { CHECK(w > 0); t += w; continue; }
            if (m->kind == PLAYOUT_FRAME && again < 4) {
                CHECK(m->len == sent_len[2 + again] && !memcmp(m->data, sent[2 + again], m->len));
                if (again < 3) CHECK(t == pause_at + 500000);
                again++;
            } else if (m->kind == PLAYOUT_FRAME) {
                fresh++;
            } else if (m->kind == PLAYOUT_END) {
                CHECK(fresh == 4);
                ends++;
            }
            free(m);
        }
        CHECK(again == 4 && fresh == 4 && ends == 1 && r.frames == 0 && r.rewound == 0);
        CHECK(r.frames_encoded == 10);   /* rewound frames are not encoded again */
        /* Only the last turn is sent again, and a flush forgets what was sent. */
        CHECK(playout_push(&r, 5, pcm, 1440 * 2, 24000, NULL) == 0);
        t += 1000000;   /* turn 4 has played out */
        playout_item *m;
        while ((m = playout_next(&r, t, &w)) != NULL) free(m);
        CHECK(playout_rewind(&r, t) == 2 && r.frames == 2);
        CHECK(playout_flush(&r) == 2 && playout_rewind(&r, t) == 0 && !playout_pending(&r));
        playout_free(&r);
    }
    return CHECK_DONE();
}
