/* libFuzzer: the mask-bit check of client WebSocket frames (frame_guard.h). Whatever the bytes,
 * reading them in one piece or split at any point finds the same answer: violated or not. The
 * first input byte chooses the split. */
#include "frame_guard.h"
#include <stdint.h>
#include <stddef.h>

static int owner_a, owner_b;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t cut = data[0] % size;
    data++, size--;
    if (cut > size) cut = size;
    frame_guard_watch(3, &owner_a);
    frame_guard_feed(3, data, (long)size);
    int whole = frame_guard_take_violation() == &owner_a;
    frame_guard_watch(4, &owner_b);
    frame_guard_feed(4, data, (long)cut);
    frame_guard_feed(4, data + cut, (long)(size - cut));
    int split = frame_guard_take_violation() == &owner_b;
    if (whole != split || frame_guard_take_violation() != NULL) __builtin_trap();
    frame_guard_forget(3, &owner_a);
    frame_guard_forget(4, &owner_b);
    return 0;
}
