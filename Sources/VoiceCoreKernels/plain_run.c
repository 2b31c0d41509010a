/* The splitter's bulk path; see include/vck_plain_run.h. The scan itself is in plain_scan.h. */
#include "plain_scan.h"

size_t vck_plain_run(const uint8_t *restrict p, size_t i, size_t n, const uint8_t *restrict kinds,
                     uint8_t *restrict dst, vck_plain_state *restrict st) {
    return plain_scan(p, i, n, kinds, dst, st);
}
