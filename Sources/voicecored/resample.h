/* Linear-interpolation resampling of PCM16 mono, for the rare TTS worker whose output rate
 * differs from the negotiated downlink rate. Stateless per call: chunk edges may click
 * faintly, which is acceptable for a mismatch fallback and keeps sessions simple. */
#ifndef VOICECORED_RESAMPLE_H
#define VOICECORED_RESAMPLE_H
#include <stddef.h>
#include <stdint.h>

/* The number of output samples resample_linear writes for n input samples. */
size_t resample_output_length(size_t n, int from_rate, int to_rate);
void resample_linear(const int16_t *in, size_t n, int from_rate, int16_t *out, size_t out_n);

#endif
