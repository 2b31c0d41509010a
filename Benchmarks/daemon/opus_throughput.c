/* Opus frames per second on one core through the daemon's audio path: uplink decode (60 ms at
 * 16 kHz → PCM) and downlink encode (24 kHz PCM → 60 ms frames via the playout queue), beside
 * the anchor: bare libopus calls at its default complexity (10), measured in the same run. */
#include "opus_codec.h"
#include "playout.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void speechlike(int16_t *pcm, size_t n, int rate) {
    unsigned seed = 12345;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        double t = (double)i / rate;
        double v = 6000 * sin(2 * M_PI * 180 * t) * (0.6 + 0.4 * sin(2 * M_PI * 3 * t)) + 3000 * sin(2 * M_PI * 900 * t) +
                   (double)((int)(seed >> 16) % 2000 - 1000);
        pcm[i] = (int16_t)v;
    }
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int complexity = argc > 2 ? atoi(argv[2]) : 5;
    enum { SECONDS_OF_AUDIO = 10 };
    int16_t *up = malloc(sizeof(int16_t) * 16000 * SECONDS_OF_AUDIO), *down = malloc(sizeof(int16_t) * 24000 * SECONDS_OF_AUDIO);
    speechlike(up, 16000 * SECONDS_OF_AUDIO, 16000);
    speechlike(down, 24000 * SECONDS_OF_AUDIO, 24000);

    /* Uplink packets as a device would send them. */
    downlink_encoder device;
    downlink_encoder_init(&device, 16000, 60, 5, 0);
    int frames_up = 16000 * SECONDS_OF_AUDIO / 960;
    uint8_t (*packets)[OPUS_MAX_PACKET] = malloc((size_t)frames_up * OPUS_MAX_PACKET);
    int *lens = malloc(sizeof(int) * (size_t)frames_up);
    for (int i = 0; i < frames_up; i++) lens[i] = downlink_encoder_encode(&device, up + i * 960, packets[i], OPUS_MAX_PACKET);

    uplink_decoder dec;
    uplink_decoder_init(&dec);
    int16_t pcm[UPLINK_MAX_SAMPLES];
    long decoded = 0;
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        for (int i = 0; i < frames_up; i++, decoded++) uplink_decoder_decode(&dec, packets[i], (size_t)lens[i], pcm);
    }
    double decode_rate = (double)decoded / (now_s() - t0);

    playout p;
    playout_init(&p, 24000, 60, 3, 0, complexity, 0);
    long encoded = 0;
    t0 = now_s();
    while (now_s() - t0 < seconds) {
        if (playout_push(&p, 1, down, 24000 * SECONDS_OF_AUDIO, 24000, NULL) != 0 || playout_end(&p, 1, NULL) != 0) {
            fprintf(stderr, "queueing failed\n");
            return 1;
        }
        /* Frames are encoded as they come due; a clock always ahead of the play clock takes them all. */
        int64_t wait = 0;
        playout_item *item;
        while ((item = playout_next(&p, p.play_clock_us + 1000000, &wait))) {
            encoded += item->kind == PLAYOUT_FRAME;
            free(item);
        }
    }
    double encode_rate = (double)p.frames_encoded / (now_s() - t0);

    /* The anchor: libopus alone at its defaults (complexity 10). */
    OpusEncoder *bare = opus_encoder_create(24000, 1, OPUS_APPLICATION_AUDIO, &(int){0});
    uint8_t out[OPUS_MAX_PACKET];
    long bare_encoded = 0;
    t0 = now_s();
    while (now_s() - t0 < seconds)
        for (int i = 0; i + 1440 <= 24000 * SECONDS_OF_AUDIO; i += 1440, bare_encoded++)
            if (opus_encode(bare, down + i, 1440, out, sizeof out) < 0) return 1;
    double bare_rate = (double)bare_encoded / (now_s() - t0);

    printf("| measure (one core) | frames/s | real-time streams (60 ms frames) |\n|---|---:|---:|\n");
    printf("| voicecored uplink decode, 60 ms @16 kHz | %.0f | %.0f |\n", decode_rate, decode_rate * 0.06);
    printf("| voicecored downlink encode+queue, 60 ms @24 kHz, complexity %d | %.0f | %.0f |\n", complexity, encode_rate,
           encode_rate * 0.06);
    printf("| anchor: bare libopus encode, 60 ms @24 kHz, complexity 10 | %.0f | %.0f |\n", bare_rate, bare_rate * 0.06);
    /* A talking session needs 1/0.06 decodes and 1/0.06 encodes per second. */
    printf("| sessions one core can decode and encode in real time | | %.0f |\n",
           1.0 / ((1.0 / 0.06) * (1.0 / decode_rate + 1.0 / encode_rate)));
    opus_encoder_destroy(bare);
    playout_free(&p);
    uplink_decoder_free(&dec);
    downlink_encoder_free(&device);
    free(up); free(down); free(packets); free(lens);
    return 0;
}
