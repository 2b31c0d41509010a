/*
 * voicecore.h — the C interface of libvoicecore, the deterministic core of VoiceCore.
 *
 * Conventions (after sqlite3.h, zstd.h and uv.h):
 *   - Every symbol starts with vc_ / VC_. Objects are opaque handles made by vc_X_new (or
 *     vc_X_open) and released by vc_X_free; vc_X_free(NULL) is a no-op.
 *   - Functions return int status codes: VC_OK (0) on success, a negative VC_ERR_* on failure.
 *     vc_strerror(code) names a code; vc_X_errmsg(handle) gives the handle's last error message
 *     (a NUL-terminated UTF-8 string owned by the handle, valid until the next call on it).
 *   - Strings are UTF-8. Binary data and text that may contain NUL travel as (pointer, length).
 *   - Ownership is stated next to every function that returns memory. Buffers "owned by the
 *     handle" stay valid until the next call on that handle; buffers "owned by the caller" are
 *     released with vc_free.
 *   - A handle is used from one thread at a time; distinct handles are independent. The library
 *     has no global mutable state, reads no clock and starts no threads.
 *   - Invalid input (NULL pointers, bad UTF-8, malformed JSON, unknown options) returns an error;
 *     nothing traps.
 *   - Options are passed as a JSON object string; NULL or "" means all defaults. Unknown keys
 *     are an error, so a typo never silently falls back to a default.
 */
#ifndef VOICECORE_H
#define VOICECORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions and status codes
 * ------------------------------------------------------------------------------------------- */

/* Bumped when a signature or struct layout changes incompatibly. Compare with vc_abi_version()
 * at run time to detect a header/library mismatch. */
#define VC_ABI_VERSION 3

#define VC_OK 0
#define VC_ERR_INVALID_ARGUMENT (-1) /* NULL pointer, out-of-range value, unknown option */
#define VC_ERR_NOMEM (-2)            /* out of memory */
#define VC_ERR_UTF8 (-3)             /* text is not valid UTF-8 */
#define VC_ERR_STATE (-4)            /* call not allowed in the handle's current state */
#define VC_ERR_NOT_FOUND (-5)        /* unknown id or key */
#define VC_ERR_IO (-6)               /* file system or OS error */
#define VC_ERR_CORRUPT (-7)          /* bad structure or checksum in a file or message */
#define VC_ERR_PARSE (-8)            /* malformed JSON or JSON of the wrong shape */
#define VC_ERR_UNSUPPORTED (-9)      /* valid but not supported (e.g. a newer file version) */
#define VC_ERR_MISMATCH (-10)        /* sizes that must agree do not (e.g. vector dimension) */
#define VC_ERR_LIMIT (-11)           /* a fixed limit was exceeded */

/* The library version as "MAJOR.MINOR.PATCH". Static storage; never free. */
const char *vc_version(void);

/* The ABI version the library was built with; equals VC_ABI_VERSION of a matching header. */
int vc_abi_version(void);

/* A short English description of a status code. Static storage; never free. Unknown codes give
 * "unknown status code". */
const char *vc_strerror(int code);

/* Releases a buffer that the library handed to the caller ("owned by the caller").
 * vc_free(NULL) is a no-op. */
void vc_free(void *buffer);

/* ---------------------------------------------------------------------------------------------
 * Sentence splitter
 *
 * Streaming: LLM text deltas in, TTS-ready segments out, each emitted as soon as its end is
 * certain (docs/sentence-splitter.md has the rules). Segments do not depend on how the text is
 * chunked into pushes. Invalid UTF-8 is replaced by U+FFFD, also a sequence split across pushes
 * that never completes (replaced at flush); it is never an error.
 * ------------------------------------------------------------------------------------------- */

typedef struct vc_splitter vc_splitter;

/* One segment. `text` and `emoji` are NUL-terminated UTF-8 owned by the splitter handle, valid
 * until the next call on it. `emoji` holds the emoji removed from this segment's text, separated
 * by single spaces ("" when none; `emoji_count` of them). `index` counts segments since the
 * handle was made or reset. A segment whose text is empty carries only emoji (a reply that was
 * nothing but emoji). */
typedef struct vc_segment {
    const char *text;
    size_t text_len;
    const char *emoji;
    size_t emoji_len;
    int64_t index;
    int32_t emoji_count;
} vc_segment;

/* Makes a splitter. options_json: NULL/"" for defaults, or an object with any of
 *   "language"           "auto" (default; per segment from the script), "en", "de", "fr", "es",
 *                        "it", "pt", "nl", "ru", "uk", "zh", "ja", "ko", "hi", "ar"
 *   "first_segment"      "comma" (default: the first segment may end at , or ， once it has
 *                        min_first_chars) or "sentence"
 *   "min_first_chars"    integer >= 0, default 8
 *   "max_segment_chars"  integer 16..1000000, default 220 (Unicode scalars)
 *   "clean_for_speech"   bool, default true: drop <think> blocks, markdown syntax and emoji
 * sqlite3_open-style: on an options error the status is negative and *out still receives a handle
 * whose vc_splitter_errmsg says why; every other call on it returns VC_ERR_STATE. Free it either
 * way. out == NULL returns VC_ERR_INVALID_ARGUMENT. */
int vc_splitter_new(vc_splitter **out, const char *options_json);

/* Releases the splitter; NULL is a no-op. */
void vc_splitter_free(vc_splitter *s);

/* The last error message of the handle ("" after a successful call); owned by the handle, valid
 * until the next call on it. NULL gives a static message. */
const char *vc_splitter_errmsg(const vc_splitter *s);

/* Appends `len` bytes of UTF-8 text (a multi-byte character may be split across pushes). text
 * may be NULL when len is 0. Returns VC_OK; ready segments are drained with vc_splitter_next. */
int vc_splitter_push(vc_splitter *s, const char *text, size_t len);

/* Drains the next ready segment: returns 1 and fills *out, 0 when none is ready, <0 on error. */
int vc_splitter_next(vc_splitter *s, vc_segment *out);

/* End of input: the held rest becomes segments (drain them with vc_splitter_next). A later push
 * starts a new reply (the first-segment rule applies again); indexes keep counting. */
int vc_splitter_flush(vc_splitter *s);

/* Forgets all text, held state and undrained segments, as if newly made with the same options. */
int vc_splitter_reset(vc_splitter *s);

/* ---------------------------------------------------------------------------------------------
 * Coordinator: the deterministic reactor that owns every device session, turn, job and timer
 * (docs/coordinator.md; events, effects and the log schema in docs/events.md).
 * ------------------------------------------------------------------------------------------- */

typedef struct vc_coordinator vc_coordinator;

/* Creates a coordinator. config_json: a JSON object of options (docs/coordinator.md), NULL or ""
 * for defaults; unknown keys are errors. sqlite3_open-style: on a config error *out still
 * receives a handle so vc_coordinator_errmsg can say why (free it anyway; every other call on it
 * returns VC_ERR_STATE). NULL out -> VC_ERR_INVALID_ARGUMENT. */
int vc_coordinator_new(vc_coordinator **out, const char *config_json);

/* Releases the handle and everything it owns. NULL is a no-op. */
void vc_coordinator_free(vc_coordinator *c);

/* The handle's last error message. Owned by the handle, valid until the next call on it. */
const char *vc_coordinator_errmsg(const vc_coordinator *c);

/* Events and effects cross this boundary as typed structs: a kind, the host's integer ids, the
 * numeric fields, and bytes. JSON appears only in bodies that travel a socket unchanged: a text
 * frame a device or a worker sent (handed in as it arrived; the core parses it once) and a text
 * frame the core made for a peer (handed out to be sent as it is) — besides configuration, which
 * is JSON as for vc_coordinator_new (VC_EVENT_CONFIG), and the /healthz report
 * (vc_coordinator_health). There is no JSON event entry point: the Python binding
 * (python/voicecore/coordinator.py) builds these structs from the dicts of docs/events.md itself,
 * and `voicecore replay` reads them from the daemon's journal as they were handed over.
 *
 * Ids. A session id and a worker id are integers in 1..2^63-1 that the host chooses for a device
 * or worker connection (voicecored: its connection number) and does not reuse while the core may
 * know it; the core uses them as they are and prints them as "s12" / "w3" in its event log and in
 * the session_id of the messages it makes for devices. Job, turn and timer ids are the core's. */

/* Worker kinds: the indexes of the per-kind arrays (vc_counters) and vc_effect.job_kind. */
#define VC_KIND_ASR 0
#define VC_KIND_TTS 1
#define VC_KIND_ASSISTANT 2
#define VC_KIND_LLM 3
#define VC_KINDS 4

typedef enum vc_event_kind {
    VC_EVENT_DEVICE_CONNECTED = 1,     /* session; device_id, client_id (may be empty), protocol_version
                                          (1..3; 0 means 1); flags VC_EVENT_AUTHENTICATED; token: the
                                          device token it presented (for the agents' token bindings,
                                          docs/agents.md; may be empty) */
    VC_EVENT_DEVICE_MESSAGE = 2,       /* session; body: the device's text frame as it arrived */
    VC_EVENT_DEVICE_AUDIO = 3,         /* session; data: PCM16LE mono 16 kHz (decoded uplink Opus) */
    VC_EVENT_DEVICE_PLAYBACK_DONE = 4, /* session, turn: that turn's queued audio has played
                                          (after a VC_EFFECT_DEVICE_AUDIO_END) */
    VC_EVENT_DEVICE_DISCONNECTED = 5,  /* session; body: the reason (text, may be empty) */
    VC_EVENT_TEXT_INPUT = 6,           /* session; body: typed text instead of speech (UTF-8) */
    VC_EVENT_WORKER_CONNECTED = 7,     /* worker */
    VC_EVENT_WORKER_MESSAGE = 8,       /* worker; body: the worker's text frame as it arrived */
    VC_EVENT_WORKER_AUDIO = 9,         /* worker, job; data: PCM16LE at the job's rate; flags VC_EVENT_LAST */
    VC_EVENT_WORKER_DISCONNECTED = 10, /* worker */
    VC_EVENT_TIMER_FIRED = 11,         /* timer: the id of a VC_EFFECT_TIMER_SET, at or after its at_us */
    VC_EVENT_CONFIG = 12,              /* body: a JSON object of options to change (docs/coordinator.md) */
    VC_EVENT_ADMIN_REQUEST = 13        /* request (the host's id for it), path, flags VC_EVENT_POST; body:
                                          the request body as it arrived (JSON, may be empty). The host
                                          has authenticated it (docs/admin-api.md); the core answers it
                                          with one VC_EFFECT_HTTP_RESPOND */,
    VC_EVENT_DEVICE_LANGUAGE = 14      /* device_id; body: the language tag the device reported over OTA
                                          (BCP 47, e.g. "zh-CN"; at most 16 bytes), used for the jobs of
                                          that device's sessions; no session */
} vc_event_kind;

#define VC_EVENT_AUTHENTICATED 1u /* VC_EVENT_DEVICE_CONNECTED: the device presented a valid token */
#define VC_EVENT_LAST 2u          /* VC_EVENT_WORKER_AUDIO: the job's last audio */
#define VC_EVENT_POST 4u          /* VC_EVENT_ADMIN_REQUEST: the method is POST (else GET) */

/* One event. Fields a kind does not use are ignored (zero them). Every (pointer, length) pair may
 * be (NULL, 0); the bytes are the caller's and only read during the call. */
typedef struct vc_event {
    int32_t kind;              /* vc_event_kind */
    uint32_t flags;            /* VC_EVENT_* flags */
    uint64_t session;          /* device kinds */
    uint64_t worker;           /* worker kinds */
    uint64_t job;              /* VC_EVENT_WORKER_AUDIO */
    uint64_t turn;             /* VC_EVENT_DEVICE_PLAYBACK_DONE */
    uint64_t timer;            /* VC_EVENT_TIMER_FIRED */
    int32_t protocol_version;  /* VC_EVENT_DEVICE_CONNECTED */
    int32_t reserved;          /* zero */
    const char *body;          /* a peer's text frame, a reason, typed text, a config patch, a language */
    size_t body_len;
    const char *device_id;     /* VC_EVENT_DEVICE_CONNECTED, VC_EVENT_DEVICE_LANGUAGE: UTF-8 */
    size_t device_id_len;
    const char *client_id;     /* VC_EVENT_DEVICE_CONNECTED: UTF-8 */
    size_t client_id_len;
    const void *data;          /* PCM16LE */
    size_t data_len;
    uint64_t request;          /* VC_EVENT_ADMIN_REQUEST: the host's id for it, 1..2^63-1 */
    const char *path;          /* VC_EVENT_ADMIN_REQUEST: the request path (UTF-8, no query string) */
    size_t path_len;
    const char *token;         /* VC_EVENT_DEVICE_CONNECTED: the device token it presented (UTF-8) */
    size_t token_len;
} vc_event;

/* Handles one event at now_us, the host's monotonic clock in microseconds (it never decreases).
 * An invalid event returns an error and is logged as an `input.rejected` event; the state is
 * unchanged, but drain the effects anyway: a rejected message or audio from a device or a worker
 * is answered with an `error` message to that peer (a VC_EFFECT_DEVICE_SEND or
 * VC_EFFECT_WORKER_SEND), so the host never composes one. Statuses: VC_ERR_CORRUPT when a body
 * that must be a JSON message is not well-formed JSON (bad syntax, invalid UTF-8, a duplicate
 * key); VC_ERR_PARSE / VC_ERR_UNSUPPORTED for a message that breaks the protocol;
 * VC_ERR_NOT_FOUND for an unknown session, worker, job or timer; VC_ERR_INVALID_ARGUMENT for an
 * unknown kind, an id out of range or a NULL pointer with a length. */
int vc_coordinator_handle(vc_coordinator *c, const vc_event *event, int64_t now_us);

typedef enum vc_effect_kind {
    VC_EFFECT_DEVICE_SEND = 1,      /* session; body: a text frame for the device, sent unchanged.
                                       flags: VC_EFFECT_HELLO (the server hello: the device may send
                                       audio from now on), VC_EFFECT_TTS_START (a reply's audio follows) */
    VC_EFFECT_DEVICE_AUDIO = 2,     /* session, turn, segment, sample_rate; data: PCM16LE to queue for
                                       paced playback; body: a text frame (tts sentence_start) to send
                                       when this audio reaches the head of the queue, or NULL */
    VC_EFFECT_DEVICE_AUDIO_END = 3, /* session, turn; body: the text frame (tts stop) to send once the
                                       turn's queued audio has played; then report
                                       VC_EVENT_DEVICE_PLAYBACK_DONE with the turn */
    VC_EFFECT_DEVICE_FLUSH = 4,     /* session: drop all of its queued audio now */
    VC_EFFECT_DEVICE_CLOSE = 5,     /* session, code (a WebSocket close code); body: the reason,
                                       one of "hello-timeout" (no hello within hello_timeout_ms,
                                       code 1008) and "idle" (idle_timeout_ms without a turn, 1000) */
    VC_EFFECT_WORKER_SEND = 6,      /* worker; body: a text frame for the worker, sent unchanged. job
                                       for a message about a job; a job message also sets job_kind,
                                       session, turn and (TTS) segment */
    VC_EFFECT_WORKER_AUDIO = 7,     /* worker, job; data: PCM16LE ASR input, one binary frame with the
                                       job header (docs/worker-protocol.md) */
    VC_EFFECT_WORKER_CLOSE = 8,     /* worker, code (a WebSocket close code); body: the reason */
    VC_EFFECT_TIMER_SET = 9,        /* timer, at_us: report VC_EVENT_TIMER_FIRED at (not before) at_us;
                                       setting a timer id again moves it */
    VC_EFFECT_TIMER_CANCEL = 10,    /* timer */
    VC_EFFECT_HTTP_RESPOND = 11,    /* request, code (the HTTP status); body: the JSON response body,
                                       sent unchanged. The answer to a VC_EVENT_ADMIN_REQUEST */
    VC_EFFECT_DEVICE_PAUSE = 12,    /* session: send no more of its queued audio (the queue keeps
                                       filling, its position is kept) until VC_EFFECT_DEVICE_RESUME or
                                       VC_EFFECT_DEVICE_FLUSH: speech over a playing reply is judged.
                                       flags: VC_EFFECT_DEVICE_DROPS */
    VC_EFFECT_DEVICE_RESUME = 13    /* session: send its queued audio again from where it paused */
} vc_effect_kind;

#define VC_EFFECT_HELLO 1u     /* VC_EFFECT_DEVICE_SEND: the server hello */
#define VC_EFFECT_TTS_START 2u /* VC_EFFECT_DEVICE_SEND: tts start, a reply's first audio follows */
#define VC_EFFECT_DEVICE_DROPS 4u /* VC_EFFECT_DEVICE_PAUSE: the device is told to drop the audio it
                                     holds (the two device sends after this effect); the frames it may
                                     not have played yet go out again first on VC_EFFECT_DEVICE_RESUME */

/* One effect. Fields a kind does not use are zero (job_kind -1). */
typedef struct vc_effect {
    int32_t kind;          /* vc_effect_kind */
    uint32_t flags;        /* VC_EFFECT_* flags */
    uint64_t session;
    uint64_t worker;
    uint64_t job;
    uint64_t turn;
    uint64_t timer;
    int64_t at_us;         /* VC_EFFECT_TIMER_SET */
    int32_t segment;       /* the reply segment of audio or of a TTS job */
    int32_t sample_rate;   /* VC_EFFECT_DEVICE_AUDIO: of data, Hz */
    int32_t code;          /* VC_EFFECT_*_CLOSE: the WebSocket close code; VC_EFFECT_HTTP_RESPOND: the HTTP status */
    int32_t job_kind;      /* VC_KIND_* of a job message, else -1 */
    const char *body;      /* NUL-terminated (body_len excludes the NUL), or NULL */
    size_t body_len;
    const void *data;      /* PCM16LE, or NULL */
    size_t data_len;
    uint64_t request;      /* VC_EFFECT_HTTP_RESPOND: the VC_EVENT_ADMIN_REQUEST it answers */
} vc_effect;

/* Drains the next pending effect in order: returns 1 and fills *out, 0 when none is pending, <0 on
 * error. The buffers *out points to are owned by the handle and valid until the next call on it. */
int vc_coordinator_next_effect(vc_coordinator *c, vc_effect *out);

/* Drains the next event-log line (one JSON object, no newline): returns 1 and sets *json / *len,
 * 0 when none is pending, <0 on error. The line is owned by the handle and valid until the next
 * call on it. */
int vc_coordinator_next_log(vc_coordinator *c, const char **json, size_t *len);

/* The running digest of the event log: a 64-bit hash of every entry logged so far (drained or not;
 * each entry's kind, time and ids), and in *entries (NULL to skip) how many there were. Two
 * coordinators made with the same config and handed the same events at the same times have equal
 * digests; voicecored's journal records it, and `voicecore replay` compares it. */
int vc_coordinator_digest(vc_coordinator *c, uint64_t *digest, uint64_t *entries);

/* The core's health verdict at now_us (the host's clock, as for vc_coordinator_handle; a time
 * before the last event counts as that event's time). Sets *json / *len to a JSON object
 * (docs/coordinator.md, "Health"): "status" ("ok" or "degraded"), "reasons" (a sentence per
 * degraded kind), "kinds" ({kind: {status, reason, workers, free_slots, leaked_slots, ejected,
 * queued, detail, for_ms}}) and "counters" (placement failures, refusals, reconciliations,
 * recycles, progress and heartbeat timeouts). Returns 1 when degraded, 0 when ok, <0 on error.
 * A query: the state and the event log are unchanged. The text is owned by the handle and valid
 * until the next call on it. */
int vc_coordinator_health(vc_coordinator *c, int64_t now_us, const char **json, size_t *len);

/* The counters the core keeps for a host's metrics, and each kind's health verdict at now_us
 * (as vc_coordinator_health, without the JSON). Returns 1 when a kind is degraded, 0 when all are
 * ok, <0 on error. A query: the state and the event log are unchanged. */
typedef struct vc_counters {
    uint64_t placement_failures[VC_KINDS]; /* jobs no worker could take within queue_timeout_ms */
    uint64_t refusals[VC_KINDS];           /* retryable refusals of jobs a worker never accepted */
    int32_t degraded[VC_KINDS];            /* 1: the kind is degraded at now_us */
    uint64_t jobs_reconciled;              /* jobs moved because heartbeats did not report them */
    uint64_t leaks_marked;                 /* leaked slots counted as occupied */
    uint64_t recycles;                     /* workers closed for persistent leaked slots */
    uint64_t progress_timeouts;            /* running jobs that made no progress in time */
    uint64_t heartbeat_timeouts;           /* workers gone after missing heartbeats */
} vc_counters;

int vc_coordinator_counters(vc_coordinator *c, int64_t now_us, vc_counters *out);

/* Counts the core keeps over every event-log entry (drained or not), for a host's metrics without
 * parsing log lines. Four tables, each read one row at a time by index (0, 1, ...):
 *   VC_TALLY_EVENTS    one row per log kind of docs/events.md ("turn.ended", "worker.gone", ...),
 *                      every kind, in a fixed order; count = entries of that kind so far.
 *   VC_TALLY_OUTCOMES  one row per turn outcome seen (the "reason" of turn.ended: "completed",
 *                      "aborted", "empty", ...), in order of first appearance; count = turns.
 *   VC_TALLY_STAGES    one row per turn.mark stage seen with a value ("asr_final", "first_delta",
 *                      "first_audio", ...): count, sum (µs) and buckets of the marks' values.
 * Returns 1 and fills *out, 0 when index is past the table's last row, <0 on error (an unknown
 * table is VC_ERR_INVALID_ARGUMENT). out->name is owned by the handle and valid until the next
 * call on it. A query: the state and the event log are unchanged. */
#define VC_TALLY_EVENTS 0
#define VC_TALLY_OUTCOMES 1
#define VC_TALLY_STAGES 2
/*   VC_TALLY_USAGE     one row per agent and LLM model seen in turn.usage, in order of first
 *                      appearance: name is the agent, a tab, the model ("unknown" when the worker
 *                      did not say; the agent "" for sessions without one); count = LLM tokens;
 *                      buckets[0] = turns counted, buckets[1] = of those, turns whose tokens were
 *                      estimated from the text (docs/agents.md, "Budgets"). */
#define VC_TALLY_USAGE 3
/* Upper bounds (µs) of the stage buckets: a mark counts in the first bucket whose bound is >= its
 * value; buckets[VC_TALLY_BUCKETS] holds the marks above the last bound. */
#define VC_TALLY_BUCKETS 14
#define VC_TALLY_BOUNDS_US {10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000}

typedef struct vc_tally {
    const char *name;                        /* the row's name, NUL-terminated */
    uint64_t count;                          /* entries, turns, or marks */
    int64_t sum_us;                          /* VC_TALLY_STAGES: sum of the marks' values; else 0 */
    uint64_t buckets[VC_TALLY_BUCKETS + 1];  /* VC_TALLY_STAGES: marks per bucket (not cumulative); else 0 */
} vc_tally;

int vc_coordinator_tally(vc_coordinator *c, int table, size_t index, vc_tally *out);

/* ---------------------------------------------------------------------------------------------
 * Retriever — embedded hybrid retrieval (BM25 + dense vectors + fusion) persisted to one file
 *
 * Documents (id, UTF-8 text, metadata) are cut into chunks; each chunk is indexed for BM25 and
 * may carry a dense vector. Search returns chunk "slots" with scores, best first: one per chunk,
 * or one per document ("group_by":"document"). vc_retriever_chunks turns slots into their
 * document ids, chunk numbers, character offsets, texts and metadata in one call. Slots stay
 * valid until vc_retriever_compact. See docs/retriever.md.
 * ------------------------------------------------------------------------------------------- */

typedef struct vc_retriever vc_retriever;

/* Opens the index file at `path`, or creates an empty index when the file does not exist (it is
 * written by vc_retriever_save). `path` NULL makes an in-memory index. `options_json` (NULL or
 * "" for defaults) applies when creating: {"k1":1.2, "b":0.75, "stemming":"auto"|"en"|"ru"|"none",
 * "stopwords":false|true|"spoken" (true: function words; "spoken": also the question words,
 * requests and fillers of spoken queries), "min_token_length":1, "chunk_size":1000 (characters, 0 = whole document),
 * "chunk_overlap":0.15, "metric":"cosine"|"dot", "hnsw":false|true|{"m":16,"ef_construction":200,
 * "ef_search":64}}; on open only hnsw.ef_search is taken, the rest comes from the file.
 * Like sqlite3_open, *out receives a handle even on failure (except a NULL `out`): read the
 * message with vc_retriever_errmsg, then vc_retriever_free it. A corrupt or truncated file gives
 * VC_ERR_CORRUPT, a newer format VC_ERR_UNSUPPORTED, a file system error VC_ERR_IO. */
int vc_retriever_open(const char *path, const char *options_json, vc_retriever **out);

/* Releases the handle (unsaved changes are lost). NULL is a no-op. */
void vc_retriever_free(vc_retriever *kb);

/* The last error message of the handle (owned by the handle, valid until the next call on it);
 * NULL for a NULL handle. */
const char *vc_retriever_errmsg(const vc_retriever *kb);

/* Adds a document, replacing any document with the same id (an update). `text` is `text_len`
 * bytes of UTF-8 (VC_ERR_UTF8 otherwise). `metadata_json` is NULL or an object whose values are
 * strings, numbers or ISO dates ("2025-06-01", compared as dates). `vectors` holds
 * `vector_count` rows of `dim` floats: 0 rows, 1 row (shared by every chunk) or one row per chunk
 * (vc_retriever_chunk_text shows the chunks); every vector in the index has the same dimension
 * (VC_ERR_MISMATCH otherwise). */
int vc_retriever_add(vc_retriever *kb, const char *id, const char *text, size_t text_len, const char *metadata_json,
                     const float *vectors, size_t vector_count, size_t dim);

/* Deletes a document and its chunks; VC_ERR_NOT_FOUND when no such id exists. The space is
 * freed by vc_retriever_compact. */
int vc_retriever_delete(vc_retriever *kb, const char *id);

/* Frees the space of deleted documents (renumbers slots; rebuilds the HNSW graph if needed). */
int vc_retriever_compact(vc_retriever *kb);

/* Writes the index to `path`, or to the path it was opened with when `path` is NULL (an in-memory
 * index then adopts `path`). The write is crash-safe: temporary file, fsync, rename. */
int vc_retriever_save(vc_retriever *kb, const char *path);

/* Counts and options as a JSON object {"documents","chunks","deleted_chunks","dimension","terms",
 * "vectors","hnsw","options"}. *out_json is owned by the caller: release it with vc_free. */
int vc_retriever_stats(vc_retriever *kb, char **out_json);

/* Searches. `query` is `query_len` bytes of UTF-8 (may be empty); `vector` is NULL or `dim`
 * floats. `options_json`: {"k":10, "mode":"auto"|"bm25"|"dense"|"hybrid", "fusion":"rrf"|
 * "weighted", "rrf_k":60, "alpha":0.5 (dense weight), "candidates":100 (per list, for fusion),
 * "exact":false (skip HNSW), "ef":n, "group_by":"chunk"|"document", "filter":{"key":value |
 * {"eq"|"ne"|"gt"|"gte"|"lt"|"lte":v, "in"|"nin":[...]}}}. Writes up to k hits, best first, into
 * the caller's arrays `out_slots` and `out_scores` (capacity >= k, else VC_ERR_INVALID_ARGUMENT)
 * and returns the number written (>= 0), or a negative status.
 * "group_by":"document" makes each hit a document: its slot is the document's best chunk and its
 * score the document's. BM25 then scores the documents of the best chunks by BM25 over the whole
 * document (term frequencies and lengths summed over its chunks, idf counted in documents); dense
 * search takes a document's best chunk; hybrid fuses the two document lists. */
int vc_retriever_search(vc_retriever *kb, const char *query, size_t query_len, const float *vector, size_t dim,
                        const char *options_json, int32_t *out_slots, float *out_scores, size_t capacity);

/* Searches `count` queries with one set of options (as vc_retriever_search, same results):
 * query i is the next `query_lens[i]` bytes of UTF-8 in `queries` (the texts back to back;
 * `queries` and `query_lens` may both be NULL for vector-only queries) and, when `vectors` is not
 * NULL, the `dim` floats at vectors + i * dim. Options are parsed and the filter evaluated once;
 * exact dense search scores a group of queries per pass over the vectors. Query i's hits go to
 * out_slots/out_scores[i * capacity ...] (the caller's arrays of count * capacity entries,
 * capacity >= k) and their number to out_counts[i]. Returns `count`, or a negative status (then
 * the outputs are unspecified). */
int vc_retriever_search_many(vc_retriever *kb, const char *queries, const size_t *query_lens, size_t count,
                             const float *vectors, size_t dim, const char *options_json, int32_t *out_slots,
                             float *out_scores, int32_t *out_counts, size_t capacity);

/* A chunk, as vc_retriever_chunks gives it. The strings are NUL-terminated UTF-8 owned by the
 * handle, valid until the next call on it. */
typedef struct vc_retriever_chunk_info {
    const char *id;             /* the document's id */
    size_t id_len;
    const char *text;           /* the chunk's text */
    size_t text_len;
    const char *metadata_json;  /* the document's metadata, a JSON object ("{}" when none) */
    size_t metadata_len;
    int32_t chunk;              /* the chunk's number in its document, from 0 */
    int32_t start, end;         /* its offsets in the document's text, in Unicode code points */
} vc_retriever_chunk_info;

/* The chunks of `count` slots (e.g. a search's hits): out[i] for slots[i], in one call (the
 * arrays are the caller's; count 0 does nothing). The strings lie back to back in the handle's
 * memory, in the order id, text, metadata_json of out[0], then of out[1], ..., each followed by
 * its NUL, so a binding may copy them out in one piece. VC_ERR_NOT_FOUND for a bad slot (out is
 * then unspecified). */
int vc_retriever_chunks(vc_retriever *kb, const int32_t *slots, size_t count, vc_retriever_chunk_info *out);

/* One slot's chunk as JSON {"id","chunk","start","end","text","metadata"} (the fields of
 * vc_retriever_chunk_info). VC_ERR_NOT_FOUND for a bad slot. *out_json is owned by the caller:
 * release it with vc_free. */
int vc_retriever_chunk(vc_retriever *kb, int32_t slot, char **out_json);

/* The chunks vc_retriever_add would make of `text`, as a JSON array of {"start","end","text"}.
 * *out_json is owned by the caller: release it with vc_free. */
int vc_retriever_chunk_text(vc_retriever *kb, const char *text, size_t text_len, char **out_json);

/* ---------------------------------------------------------------------------------------------
 * Simulator: the real Coordinator and Scheduler against a simulated fleet (devices with scripted
 * users, workers with latencies and faults, flaky links) on a virtual clock, with invariants
 * checked continuously (docs/simulator.md). Deterministic: the same options give the same report,
 * byte for byte (including its "hash" of the event log).
 * ------------------------------------------------------------------------------------------- */

typedef struct vc_sim vc_sim;

/* Creates a simulation. options_json: NULL/"" for defaults, or an object with any of
 *   "seed"           integer >= 0, default 1
 *   "devices"        integer 1..100000, default 50
 *   "workers"        {"asr": n, "assistant": n, "tts": n, "gpu": n} (gpu: multi-role asr+tts
 *                    boxes), default {"asr":3,"assistant":2,"tts":4,"gpu":2}
 *   "duration"       simulated time, "30d", "1h", "15m", "90s", "2d03:11:08"; default "1h"
 *   "duration_us"    the same in microseconds
 *   "until"          stop early at this simulated time (same format)
 *   "faults"         "none", "moderate" (default) or "harsh"
 *   "liveness"       bool, default false: faults stop for the last quarter (at most 15 min) and
 *                    every device and worker must be back, every turn ended, within bounds
 *   "buggify"        bool, default true: the Coordinator's knobs randomized within their ranges
 *   "trace"          "dev-N": the report's "trace" holds that device's events
 *   "inject_bug"     test only: "audio-after-barge-in", "tts-segment-twice", "leaked-slot",
 *                    "stuck-speaking", "lost-reconnect" (the simulator's host misbehaves; never
 *                    in production)
 *   "ttfa_budget_ms" p99 time-to-first-audio budget in fault-free windows, default 2000
 *   "last_events"    log lines of the failing session in the report, default 12
 * sqlite3_open-style: on an options error the status is negative and *out still receives a handle
 * whose vc_sim_errmsg says why (free it anyway). out == NULL returns VC_ERR_INVALID_ARGUMENT. */
int vc_sim_new(vc_sim **out, const char *options_json);

/* Releases the handle and its report; NULL is a no-op. */
void vc_sim_free(vc_sim *s);

/* The handle's last error message; owned by the handle, valid until the next call on it. */
const char *vc_sim_errmsg(const vc_sim *s);

/* Runs the whole simulation (single-threaded, no clock read: measure real time yourself) and sets
 * *report_json to the report, a NUL-terminated JSON object (its length in *len unless len is
 * NULL): simulated time, events, faults injected by kind, turns, time to first audio, the fleet
 * timeline (about 240 samples: workers per group up/ejected/draining/down, sessions, faults and
 * turns per interval; docs/simulator.md), the invariants checked, the event-log hash, the violation if any (invariant, time, session, detail,
 * last events, the command that reproduces it) and the trace. The report is owned by the handle,
 * valid until vc_sim_free. Returns 1 when every invariant held, 0 on a violation, <0 on error (a
 * handle runs once: a second call returns VC_ERR_STATE). */
int vc_sim_run(vc_sim *s, const char **report_json, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* VOICECORE_H */
