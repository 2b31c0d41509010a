/* libFuzzer: worker JSON text messages. */
#include "worker_message.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    worker_message m;
    char error[256];
    if (worker_message_parse((const char *)data, size, &m, error, sizeof error) == 0) {
        if (!m.root) __builtin_trap();
        json_decref(m.root);
    }
    return 0;
}
