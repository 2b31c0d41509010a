#include "resample.h"

size_t resample_output_length(size_t n, int from_rate, int to_rate) {
    if (from_rate <= 0 || to_rate <= 0) return 0;
    return (size_t)((uint64_t)n * (uint64_t)to_rate / (uint64_t)from_rate);
}

void resample_linear(const int16_t *in, size_t n, int from_rate, int16_t *out, size_t out_n) {
    if (n == 0) return;
    double step = out_n > 1 ? (double)(n - 1) / (double)(out_n - 1) : 0.0;
    (void)from_rate;
    for (size_t i = 0; i < out_n; i++) {
        double pos = (double)i * step;
        size_t k = (size_t)pos;
        if (k >= n - 1) { out[i] = in[n - 1]; continue; }
        double frac = pos - (double)k;
        out[i] = (int16_t)((double)in[k] * (1.0 - frac) + (double)in[k + 1] * frac);
    }
}
