/* libFuzzer: worker binary frames (12-byte job header). */
#include "frame_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    worker_frame f;
    const char *error;
    if (worker_frame_parse(data, size, &f, &error) == 0) {
        if (f.payload + f.payload_len != data + size || f.payload_len % 2) __builtin_trap();
        uint8_t header[WORKER_FRAME_HEADER];
        worker_frame_header(f.job, f.flags & WORKER_FRAME_FLAG_LAST, header);
        worker_frame g;
        if (worker_frame_parse(header, sizeof header, &g, &error) != 0 || g.job != f.job) __builtin_trap();
    }
    return 0;
}
