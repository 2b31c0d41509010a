#include "frame_header.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

int device_frame_parse(int version, const uint8_t *buf, size_t len, device_frame *out, const char **error) {
    *error = NULL;
    out->type = DEVICE_FRAME_TYPE_OPUS;
    out->timestamp = 0;
    if (version == 1) {
        if (len == 0) { *error = "empty audio frame"; return -1; }
        out->payload = buf;
        out->payload_len = len;
        return 0;
    }
    if (version == 2) {
        if (len < DEVICE_FRAME_V2_HEADER) { *error = "frame shorter than the 16-byte protocol 2 header"; return -1; }
        if (be16(buf) != 2) { *error = "protocol 2 header carries another version"; return -1; }
        out->type = be16(buf + 2);
        out->timestamp = be32(buf + 8);
        uint32_t size = be32(buf + 12);
        /* The firmware sends exactly one payload per message; a size that disagrees with the
         * message length is a framing error, not something to guess around. */
        if ((size_t)size != len - DEVICE_FRAME_V2_HEADER) { *error = "protocol 2 payload_size disagrees with the frame length"; return -1; }
        out->payload = buf + DEVICE_FRAME_V2_HEADER;
        out->payload_len = size;
        return 0;
    }
    if (version == 3) {
        if (len < DEVICE_FRAME_V3_HEADER) { *error = "frame shorter than the 4-byte protocol 3 header"; return -1; }
        out->type = buf[0];
        uint16_t size = be16(buf + 2);
        if ((size_t)size != len - DEVICE_FRAME_V3_HEADER) { *error = "protocol 3 payload_size disagrees with the frame length"; return -1; }
        out->payload = buf + DEVICE_FRAME_V3_HEADER;
        out->payload_len = size;
        return 0;
    }
    *error = "unknown protocol version";
    return -1;
}

int device_frame_header(int version, size_t payload_len, uint32_t timestamp, uint8_t *header) {
    switch (version) {
    case 1:
        return 0;
    case 2:
        if (payload_len > UINT32_MAX) return -1;
        put16(header, 2);
        put16(header + 2, DEVICE_FRAME_TYPE_OPUS);
        put32(header + 4, 0);
        put32(header + 8, timestamp);
        put32(header + 12, (uint32_t)payload_len);
        return DEVICE_FRAME_V2_HEADER;
    case 3:
        if (payload_len > UINT16_MAX) return -1;
        header[0] = DEVICE_FRAME_TYPE_OPUS;
        header[1] = 0;
        put16(header + 2, (uint16_t)payload_len);
        return DEVICE_FRAME_V3_HEADER;
    default:
        return -1;
    }
}

int worker_frame_parse(const uint8_t *buf, size_t len, worker_frame *out, const char **error) {
    *error = NULL;
    if (len < WORKER_FRAME_HEADER) { *error = "binary frame shorter than the 12-byte job header"; return -1; }
    out->version = buf[0];
    out->type = buf[1];
    out->flags = be16(buf + 2);
    if (out->version != 1) { *error = "unsupported binary frame version"; return -1; }
    if (out->type != 1) { *error = "unsupported binary frame type"; return -1; }
    out->job = ((uint64_t)be32(buf + 4) << 32) | be32(buf + 8);
    out->payload = buf + WORKER_FRAME_HEADER;
    out->payload_len = len - WORKER_FRAME_HEADER;
    if (out->payload_len % 2 != 0) { *error = "PCM16 payload has an odd number of bytes"; return -1; }
    return 0;
}

void worker_frame_header(uint64_t job, int last, uint8_t header[WORKER_FRAME_HEADER]) {
    header[0] = 1;
    header[1] = 1;
    put16(header + 2, last ? WORKER_FRAME_FLAG_LAST : 0);
    put32(header + 4, (uint32_t)(job >> 32));
    put32(header + 8, (uint32_t)job);
}
