#include "opus_codec.h"

int uplink_decoder_init(uplink_decoder *d) {
    int err = 0;
    d->decoder = opus_decoder_create(UPLINK_SAMPLE_RATE, 1, &err);
    return d->decoder ? 0 : err;
}

void uplink_decoder_free(uplink_decoder *d) {
    if (d->decoder) opus_decoder_destroy(d->decoder);
    d->decoder = NULL;
}

int uplink_decoder_decode(uplink_decoder *d, const uint8_t *packet, size_t len, int16_t *pcm) {
    if (len == 0 || len > OPUS_MAX_PACKET) return OPUS_INVALID_PACKET;
    return opus_decode(d->decoder, packet, (opus_int32)len, pcm, UPLINK_MAX_SAMPLES, 0);
}

int downlink_encoder_init(downlink_encoder *e, int sample_rate, int frame_ms, int complexity, int bitrate) {
    int err = 0;
    e->encoder = opus_encoder_create(sample_rate, 1, OPUS_APPLICATION_AUDIO, &err);
    if (!e->encoder) return err;
    e->sample_rate = sample_rate;
    e->frame_samples = sample_rate * frame_ms / 1000;
    opus_encoder_ctl(e->encoder, OPUS_SET_COMPLEXITY(complexity));
    if (bitrate > 0) opus_encoder_ctl(e->encoder, OPUS_SET_BITRATE(bitrate));
    return 0;
}

void downlink_encoder_free(downlink_encoder *e) {
    if (e->encoder) opus_encoder_destroy(e->encoder);
    e->encoder = NULL;
}

int downlink_encoder_encode(downlink_encoder *e, const int16_t *pcm, uint8_t *packet, size_t packet_cap) {
    return opus_encode(e->encoder, pcm, e->frame_samples, packet, (opus_int32)packet_cap);
}

void downlink_encoder_reset(downlink_encoder *e) { opus_encoder_ctl(e->encoder, OPUS_RESET_STATE); }
