/* libFuzzer: device JSON text messages. */
#include "device_message.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    device_message m;
    char error[256];
    if (device_message_parse((const char *)data, size, &m, error, sizeof error) == 0) {
        if (!m.root) __builtin_trap();
        json_decref(m.root);
    }
    return 0;
}
