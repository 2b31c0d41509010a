/* Inner-product kernels for the Retriever, in C so that each can be compiled for several
 * instruction sets (portable SSE2, AVX2+FMA, AVX-512) and the best one the CPU supports chosen at
 * run time (vck_best_level, from cpuid). Internal to libvoicecore: not part of voicecore.h. */
#ifndef VOICECORE_KERNELS_H
#define VOICECORE_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set levels; every function takes one and falls back to portable code for a level
 * this build or this CPU lacks. */
enum { VCK_PORTABLE = 0, VCK_AVX2_FMA = 1, VCK_AVX512 = 2 };

/* The best level this CPU and OS support (cpuid and the OS's saved register state). */
int vck_best_level(void);

/* a · b over n floats. */
float vck_dot(int level, const float *a, const float *b, size_t n);

/* out[i * count + r] = queries[i] · rows[r] for i < nq, r < count; rows and queries are
 * row-major with `dim` floats each. Rows are read in cache-sized tiles so a batch of queries reads
 * each row from memory once per tile rather than once per query. */
void vck_dot_block(int level, const float *queries, size_t nq, const float *rows, size_t count, size_t dim, float *out);

/* out[j] = q · base[ids[j] * dim] for j < n (graph neighbours), prefetching the next rows. */
void vck_dot_gather(int level, const float *q, const float *base, size_t dim, const int *ids, size_t n, float *out);

/* Asks for the `bytes` starting at p to be brought into the cache (a hint, never a fault): the
 * HNSW walk fetches the next candidate's link list while it scores the current one's
 * neighbours. Inline, so Swift calls it without a call into the library. */
static inline void vck_prefetch(const void *p, size_t bytes) {
    const char *c = (const char *)p, *end = c + bytes;
    for (; c < end; c += 64) __builtin_prefetch(c, 0, 3);
}

#ifdef __cplusplus
}
#endif
#endif
