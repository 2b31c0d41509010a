/* Binary frame headers read from and written to the network: the XiaoZhi device protocol's
 * versions 1 (raw Opus), 2 (16-byte header) and 3 (4-byte header), and the worker protocol's
 * 12-byte job header. Pure functions over byte buffers; every length is checked. */
#ifndef VOICECORED_FRAME_HEADER_H
#define VOICECORED_FRAME_HEADER_H
#include <stddef.h>
#include <stdint.h>

#define DEVICE_FRAME_V2_HEADER 16
#define DEVICE_FRAME_V3_HEADER 4
#define DEVICE_FRAME_MAX_HEADER 16
#define WORKER_FRAME_HEADER 12

/* Payload types inside protocol 2/3 frames. */
#define DEVICE_FRAME_TYPE_OPUS 0

typedef struct device_frame {
    uint16_t type;       /* 0 = Opus (v2/v3); v1 frames are always Opus */
    uint32_t timestamp;  /* milliseconds, v2 only (server-side AEC); 0 otherwise */
    const uint8_t *payload;
    size_t payload_len;
} device_frame;

/* Parses one binary WebSocket message of protocol `version` (1..3). Returns 0 and fills *out
 * (payload points into buf), or a negative value with *error set to a static message. */
int device_frame_parse(int version, const uint8_t *buf, size_t len, device_frame *out, const char **error);

/* Writes the header for an Opus payload of payload_len bytes into header (room for
 * DEVICE_FRAME_MAX_HEADER bytes). Returns the header length (0 for v1), or -1 when the payload
 * does not fit the version's size field or the version is unknown. */
int device_frame_header(int version, size_t payload_len, uint32_t timestamp, uint8_t *header);

typedef struct worker_frame {
    uint8_t version;     /* 1 */
    uint8_t type;        /* 1 = PCM16LE mono audio */
    uint16_t flags;      /* bit 0: last chunk of the job's audio */
    uint64_t job;
    const uint8_t *payload;
    size_t payload_len;
} worker_frame;

#define WORKER_FRAME_FLAG_LAST 0x0001

int worker_frame_parse(const uint8_t *buf, size_t len, worker_frame *out, const char **error);
/* Writes the 12-byte header (version 1, type audio). */
void worker_frame_header(uint64_t job, int last, uint8_t header[WORKER_FRAME_HEADER]);

#endif
