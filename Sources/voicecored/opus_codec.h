/* Opus on both sides of a device session: the uplink decoder turns the device's packets (any
 * frame duration) into 16 kHz mono PCM for ASR; the downlink encoder cuts PCM into frames of
 * the negotiated duration. Thin wrappers over libopus that keep the fixed sizes in one place. */
#ifndef VOICECORED_OPUS_CODEC_H
#define VOICECORED_OPUS_CODEC_H
#include <opus.h>
#include <stddef.h>
#include <stdint.h>

#define UPLINK_SAMPLE_RATE 16000
/* The longest Opus packet is 120 ms. */
#define UPLINK_MAX_SAMPLES (UPLINK_SAMPLE_RATE * 120 / 1000)
#define OPUS_MAX_PACKET 1500

typedef struct uplink_decoder {
    OpusDecoder *decoder;
} uplink_decoder;

int uplink_decoder_init(uplink_decoder *d);
void uplink_decoder_free(uplink_decoder *d);
/* Decodes one packet into pcm (room for UPLINK_MAX_SAMPLES). Returns the sample count or a
 * negative libopus error (garbage input is an error, never a crash). */
int uplink_decoder_decode(uplink_decoder *d, const uint8_t *packet, size_t len, int16_t *pcm);

typedef struct downlink_encoder {
    OpusEncoder *encoder;
    int sample_rate;
    int frame_samples;     /* samples per frame at sample_rate */
} downlink_encoder;

/* sample_rate: 8000/12000/16000/24000/48000; frame_ms: 10/20/40/60; complexity 0..10;
 * bitrate in bit/s or 0 for libopus' choice. */
int downlink_encoder_init(downlink_encoder *e, int sample_rate, int frame_ms, int complexity, int bitrate);
void downlink_encoder_free(downlink_encoder *e);
/* Encodes exactly frame_samples samples; returns the packet length or a negative error. */
int downlink_encoder_encode(downlink_encoder *e, const int16_t *pcm, uint8_t *packet, size_t packet_cap);
void downlink_encoder_reset(downlink_encoder *e);

#endif
