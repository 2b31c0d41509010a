/* The journal: every event the daemon hands the Coordinator, recorded so that `voicecore replay`
 * can run it through a fresh Coordinator and reproduce the run exactly (docs/journal.md).
 *
 * A file is the 8-byte magic "VCJRNL2\n" followed by records. A record is a 24-byte header, all
 * integers little-endian:
 *     0  u8   type: 'H' header, 'E' event, 'D' digest, 'Z' end
 *     1  u8×3 zero
 *     4  u32  json_len
 *     8  u32  data_len
 *    12  i64  time_us (the monotonic time handed to vc_coordinator_handle)
 *    20  u32  CRC-32 (IEEE, as zlib.crc32) of header bytes 0..19, the JSON and the data
 * then json_len bytes and data_len bytes of binary payload. For 'H', 'D' and 'Z' the first part is
 * a JSON object; for 'E' it is the typed event the core was handed (vc_event, include/voicecore.h),
 * encoded as JOURNAL_EVENT_HEAD bytes, all little-endian:
 *     0  i32 kind     4  u32 flags     8  u64 session   16 u64 worker   24 u64 job
 *     32 u64 turn     40 u64 timer     48 i32 protocol_version           52 u32 body_len
 *     56 u16 device_id_len             58 u16 client_id_len              60 u64 request
 *     68 u32 path_len                  72 u32 token_len
 * then the body, the device id, the client id, the path and the token; the event's PCM is the
 * record's data part.
 *
 * A run (one daemon process) is a sequence of segments DIR/journal-<run>-<NNNN>.vcj. Each starts
 * with an 'H' record (library version, the Coordinator's config, the segment number and the
 * digest so far); 'D' records carry the core's event-log digest every `digest_every` events; a
 * segment ends with a 'Z' record (reason "rotated", "closed" or "full"). Segments roll over at
 * digest records once a file holds max_bytes. Replay needs a run from its first segment, so
 * rotation never deletes a segment of the running run: when the directory holds `keep` files,
 * the oldest files of earlier runs go first, and a run that alone fills `keep` segments stops
 * recording ('Z' reason "full"), its beginning kept intact.
 *
 * Writes are buffered (whole records in a 1 MiB buffer, written when it fills or on
 * journal_flush, which the daemon calls 50 ms after the buffer was first dirtied); nothing is
 * fsynced. */
#ifndef VOICECORED_JOURNAL_H
#define VOICECORED_JOURNAL_H
#include <stddef.h>
#include <stdint.h>
#include <voicecore.h>

#define JOURNAL_MAGIC "VCJRNL2\n"
#define JOURNAL_MAGIC_LEN 8
#define JOURNAL_RECORD_HEADER 24
#define JOURNAL_EVENT_HEAD 76

typedef struct journal journal;

typedef struct journal_options {
    const char *dir;            /* created if missing */
    uint64_t max_bytes;         /* a segment rolls over once it holds this much */
    int keep;                   /* journal files kept in dir (all runs), >= 1 */
    int digest_every;           /* events between 'D' records, >= 1 */
    const char *header_json;    /* a JSON object whose fields every 'H' record carries, or NULL */
} journal_options;

/* Opens the first segment of a new run. NULL with a message in error when dir cannot be used. */
journal *journal_open(const journal_options *o, int64_t now_us, char *error, size_t error_len);

/* Records one event (before the core handles it). Returns 1 when a digest record is due (call
 * journal_digest after the core has handled the event), 0 otherwise, -1 once the journal has
 * stopped (a write error or "full"; journal_error says why, once). */
int journal_event(journal *j, int64_t now_us, const vc_event *e);
/* The same with the 'E' record's two parts given as bytes (the encoding below, or anything: the
 * framing does not look inside). */
int journal_record_event(journal *j, int64_t now_us, const void *event, size_t event_len, const void *data, size_t data_len);

/* An event's encoding (the layout above): its size, and the bytes written to out (size bytes). */
size_t journal_event_size(const vc_event *e);
void journal_encode_event(const vc_event *e, uint8_t *out);
/* Decodes an 'E' record's parts into *out, whose pointers point into bytes and data. 0, or -1
 * when the lengths do not add up. */
int journal_decode_event(const void *bytes, size_t len, const void *data, size_t data_len, vc_event *out);

/* Records the core's digest after the events so far; may roll over to a new segment. */
void journal_digest(journal *j, int64_t now_us, uint64_t digest, uint64_t entries);

/* Writes the buffered records (no fsync). Returns 0, or -1 on a write error (the journal stops). */
int journal_flush(journal *j);

/* Ends the run: a final 'D' and 'Z' record, flush, close. NULL is a no-op. */
void journal_close(journal *j, int64_t now_us, uint64_t digest, uint64_t entries);

/* The file being written (empty once stopped), the events recorded, and the reason the journal
 * stopped if it has (NULL while it records). */
const char *journal_path(const journal *j);
uint64_t journal_events(const journal *j);
const char *journal_error(const journal *j);

/* ---- reading (the C tests and benchmarks; `voicecore replay` has its own reader in
 *      python/voicecore/journal.py) */

typedef struct journal_record {
    char type;
    int64_t time_us;
    const char *json;
    size_t json_len;
    const void *data;
    size_t data_len;
} journal_record;

enum { JOURNAL_READ_END = 0, JOURNAL_READ_RECORD = 1, JOURNAL_READ_TRUNCATED = -1, JOURNAL_READ_CORRUPT = -2 };

/* Parses the record at buf[*offset]. Returns JOURNAL_READ_RECORD (and advances *offset),
 * JOURNAL_READ_END when *offset == len, JOURNAL_READ_TRUNCATED when the bytes end inside a record,
 * JOURNAL_READ_CORRUPT on a bad checksum or type. The record points into buf. */
int journal_parse(const uint8_t *buf, size_t len, size_t *offset, journal_record *out);

uint32_t journal_crc32(uint32_t crc, const void *data, size_t len);

/* One journal segment read whole (the benchmarks replay it through a fresh Coordinator). */
typedef struct journal_file {
    uint8_t *buf;                /* the file's bytes; the records point into it */
    size_t len;
    journal_record *events;      /* its 'E' records, in order */
    size_t count;
    char *config;                /* the "config" object of its first 'H' record (JSON text), or NULL */
    uint64_t digest;             /* the digest of its last 'D' or 'Z' record, 0 without one */
    uint64_t payload_bytes;      /* JSON and data bytes of its events */
} journal_file;

/* Reads path up to its end or its first truncated or corrupt record. Returns 0, or -1 with a
 * message in error (the file cannot be read, or has no events). journal_file_free releases it. */
int journal_load(const char *path, journal_file *out, char *error, size_t error_len);
void journal_file_free(journal_file *f);

#endif
