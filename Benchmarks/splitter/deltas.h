/* The LLM-sized deltas every splitter driver feeds (3..24 bytes, a fixed cycle): one definition,
   so callgrind_pass's instruction counts describe the same work bench_splitter times. */
#ifndef VC_BENCH_DELTAS_H
#define VC_BENCH_DELTAS_H
#include <stddef.h>

/* The length of delta number `*step` (then advanced), cut to the `left` bytes of the reply. */
static inline size_t next_delta(size_t *step, size_t left) {
    size_t n = 3 + ((*step)++ * 7) % 22;
    return n < left ? n : left;
}

#endif
