/* The daemon's network-input parsers: device frame headers (protocols 1-3), worker job
 * headers, bearer tokens and identifiers (text frames go to the Coordinator unparsed). */
#include "check.h"
#include "frame_header.h"
#include "http_request.h"
#include <stdint.h>

static void device_frames(void) {
    const char *err;
    device_frame f;
    uint8_t opus[3] = {0xf8, 0xff, 0xfe};
    CHECK(device_frame_parse(1, opus, 3, &f, &err) == 0 && f.payload == opus && f.payload_len == 3);
    CHECK(device_frame_parse(1, opus, 0, &f, &err) < 0);

    uint8_t frame[32];
    for (int version = 2; version <= 3; version++) {
        int h = device_frame_header(version, 3, 1234, frame);
        CHECK(h == (version == 2 ? 16 : 4));
        memcpy(frame + h, opus, 3);
        CHECK(device_frame_parse(version, frame, (size_t)h + 3, &f, &err) == 0);
        CHECK(f.payload_len == 3 && memcmp(f.payload, opus, 3) == 0 && f.type == 0);
        if (version == 2) CHECK(f.timestamp == 1234);
        /* A size field that disagrees with the message length is rejected. */
        CHECK(device_frame_parse(version, frame, (size_t)h + 2, &f, &err) < 0 && err != NULL);
        /* Truncated headers are rejected. */
        CHECK(device_frame_parse(version, frame, (size_t)h - 1, &f, &err) < 0);
    }
    /* v2 frames carry their version; a v3-length frame in v2 framing fails. */
    uint8_t v2[19] = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3};
    CHECK(device_frame_parse(2, v2, sizeof v2, &f, &err) < 0);
    v2[1] = 2;
    CHECK(device_frame_parse(2, v2, sizeof v2, &f, &err) == 0);
    CHECK(device_frame_parse(4, v2, sizeof v2, &f, &err) < 0);
    CHECK(device_frame_header(3, 70000, 0, frame) == -1);
    /* Byte order on the wire is big-endian, as the firmware's htons/htonl. */
    CHECK(device_frame_header(3, 0x0102, 0, frame) == 4 && frame[2] == 1 && frame[3] == 2);
}

static void worker_frames(void) {
    uint8_t buf[16];
    worker_frame_header(0x0102030405060708ULL, 1, buf);
    buf[12] = 1; buf[13] = 0; buf[14] = 2; buf[15] = 0;
    worker_frame f;
    const char *err;
    CHECK(worker_frame_parse(buf, 16, &f, &err) == 0);
    CHECK(f.job == 0x0102030405060708ULL && (f.flags & WORKER_FRAME_FLAG_LAST) && f.payload_len == 4);
    CHECK(worker_frame_parse(buf, 11, &f, &err) < 0);
    CHECK(worker_frame_parse(buf, 15, &f, &err) < 0);  /* odd PCM16 payload */
    buf[0] = 2;
    CHECK(worker_frame_parse(buf, 16, &f, &err) < 0);
    buf[0] = 1; buf[1] = 9;
    CHECK(worker_frame_parse(buf, 16, &f, &err) < 0);
}

static void requests(void) {
    char tok[64];
    CHECK(bearer_token("Bearer abc", 10, tok, sizeof tok) == 3 && !strcmp(tok, "abc"));
    CHECK(bearer_token("bearer  abc ", 12, tok, sizeof tok) == 3 && !strcmp(tok, "abc"));
    CHECK(bearer_token("abc", 3, tok, sizeof tok) == 3);
    CHECK(bearer_token("Basic abc", 9, tok, sizeof tok) < 0);
    CHECK(bearer_token("Bearer ", 7, tok, sizeof tok) < 0);
    CHECK(bearer_token("Bearer abc", 10, tok, 3) < 0);
    CHECK(valid_identifier("aa:bb:cc:dd:ee:ff", 17));
    CHECK(valid_identifier("550e8400-e29b-41d4-a716-446655440000", 36));
    CHECK(!valid_identifier("a b", 3) && !valid_identifier("", 0) && !valid_identifier("<x>", 3));
    CHECK(tokens_equal("secret", "secret") && !tokens_equal("secret", "secreT") && !tokens_equal("s", "secret"));
    CHECK(!tokens_equal("", ""));
    CHECK(protocol_version("2", 1) == 2 && protocol_version(" 3 ", 3) == 3 && protocol_version("4", 1) < 0 &&
          protocol_version("12", 2) < 0);
}

int main(void) {
    device_frames();
    worker_frames();
    requests();
    return CHECK_DONE();
}
