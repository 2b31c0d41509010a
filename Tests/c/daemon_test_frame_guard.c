/* The mask-bit check of client WebSocket frames (frame_guard.h): masked frames of every length
 * form pass however the reads split them; an unmasked frame, data or control, first or after
 * others, is reported once, with its owner. */
#include "check.h"
#include "frame_guard.h"
#include <stdint.h>
#include <string.h>

static size_t frame(uint8_t *out, uint8_t opcode, size_t len, int masked) {
    size_t n = 0;
    out[n++] = (uint8_t)(0x80 | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = (uint8_t)(m | 126);
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = (uint8_t)(m | 127);
        for (int i = 7; i >= 0; i--) out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (masked) {
        memcpy(out + n, "\x01\x02\x03\x04", 4);
        n += 4;
    }
    memset(out + n, 0x81, len);   /* payload bytes that look like frame headers */
    return n + len;
}

static uint8_t stream[400000];

static void feed_in_pieces(int fd, const uint8_t *b, size_t len, size_t piece) {
    for (size_t i = 0; i < len; i += piece) frame_guard_feed(fd, b + i, (long)(len - i < piece ? len - i : piece));
}

int main(void) {
    int owner_a, owner_b;
    static const size_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    size_t n = 0;
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) n += frame(stream + n, (uint8_t)(i % 2 ? 2 : 1), lengths[i], 1);
    n += frame(stream + n, 9, 3, 1);   /* a masked ping */
    static const size_t pieces[] = {1, 2, 3, 7, 4096, sizeof stream};
    for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
        frame_guard_watch(5, &owner_a);
        feed_in_pieces(5, stream, n, pieces[p]);
        CHECK(frame_guard_take_violation() == NULL);
        /* Then an unmasked frame: reported once. */
        size_t bad = frame(stream + n, 1, 10, 0);
        feed_in_pieces(5, stream + n, bad, pieces[p]);
        CHECK(frame_guard_take_violation() == &owner_a);
        feed_in_pieces(5, stream + n, bad, pieces[p]);
        CHECK(frame_guard_take_violation() == NULL);
        frame_guard_forget(5, &owner_a);
    }
    /* An unmasked control frame alone; another socket is unaffected. */
    frame_guard_watch(6, &owner_a);
    frame_guard_watch(7, &owner_b);
    uint8_t ping_frame[16], ok_frame[64];
    long ping = (long)frame(ping_frame, 9, 2, 0);
    frame_guard_feed(6, ping_frame, ping);
    frame_guard_feed(7, ok_frame, (long)frame(ok_frame, 1, 20, 1));
    CHECK(frame_guard_take_violation() == &owner_a);
    CHECK(frame_guard_take_violation() == NULL);
    /* A descriptor no longer watched, or watched for someone else now, is left alone. */
    frame_guard_forget(7, &owner_a);
    frame_guard_feed(7, ping_frame, ping);
    CHECK(frame_guard_take_violation() == &owner_b);
    frame_guard_forget(7, &owner_b);
    frame_guard_feed(7, ping_frame, ping);
    frame_guard_feed(9999, ping_frame, ping);
    CHECK(frame_guard_take_violation() == NULL);
    /* A violation not yet taken is dropped with its owner. */
    frame_guard_watch(8, &owner_b);
    frame_guard_feed(8, ping_frame, ping);
    frame_guard_forget(8, &owner_b);
    CHECK(frame_guard_take_violation() == NULL);
    return CHECK_DONE();
}
