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
#define VC_ABI_VERSION 1

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

#ifdef __cplusplus
}
#endif

#endif /* VOICECORE_H */
