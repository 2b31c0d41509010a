/* libFuzzer: device binary frames in every protocol version. */
#include "frame_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int version = data[0] % 5;   /* 0 and 4 must be refused too */
    device_frame f;
    const char *error;
    if (device_frame_parse(version, data + 1, size - 1, &f, &error) == 0) {
        /* The payload lies inside the input. */
        if (f.payload < data + 1 || f.payload + f.payload_len > data + size) __builtin_trap();
        uint8_t header[DEVICE_FRAME_MAX_HEADER];
        if (device_frame_header(version, f.payload_len, f.timestamp, header) < 0 && version == 2) __builtin_trap();
    }
    return 0;
}
