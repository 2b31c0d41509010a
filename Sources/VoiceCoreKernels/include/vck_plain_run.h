/* The sentence splitter's bulk path (Sources/VoiceCore/SentenceSplitter/SegmentBuilder.swift,
 * appendPlainRun): copies a run of plain text — letters, digits, CJK, clause marks that decide
 * nothing, single spaces between words — into the segment and keeps the builder's facts about it
 * up to date, in one tight loop. In C because it runs over most of the input and Swift's overflow
 * checks and spills of the builder's fields cost several times the scan itself. Internal to
 * libvoicecore: not part of voicecore.h. */
#ifndef VOICECORE_PLAIN_RUN_H
#define VOICECORE_PLAIN_RUN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds in the per-BMP-scalar table (PlainScalar in Swift), low 3 bits; bit 7: a lower-case letter. */
enum { VCK_PLAIN_NONE = 0, VCK_PLAIN_WORD = 1, VCK_PLAIN_CJK = 2, VCK_PLAIN_CLAUSE = 3, VCK_PLAIN_MARK = 4,
       VCK_PLAIN_KIND_MASK = 7, VCK_PLAIN_LOWER = 0x80 };

/* The segment builder's facts the run changes (names as in SegmentBuilder; offsets are byte offsets
 * in the segment, counts are scalars). */
typedef struct {
    int64_t seg_count;          /* bytes in the segment; the run is written at dst = segment + seg_count */
    int64_t chars;              /* segChars */
    int64_t token_index, token_start;
    int64_t space_break, space_chars, cjk_break, cjk_chars, clause_break, clause_chars;
    /* Read only: no scalar may bring `chars` to max_chars; a first-segment comma (',' or U+FF0C)
       with at least comma_from scalars before it, once the segment has a word, ends the run. */
    int64_t max_chars, comma_from;
    uint32_t last;              /* lastScalar */
    uint8_t cjk;                /* lastWasCJK */
    uint8_t has_word, token_has_word, token_first_lower, previous_word_lower;
    uint8_t clean;              /* read only: clean_for_speech (single spaces are materialized as 0x20) */
    uint8_t took_space;         /* set when a space between words was taken */

    /* --- split9: the whole-push loop's state (vck_split_run.h); the bulk path above ignores it. --- */
    uint8_t space_pending;      /* spacePending: whitespace seen, not yet written */
    uint8_t space_before_removed; /* spaceBeforeRemoved */
    uint8_t emoji_taken;        /* set when a segment took the builder's emoji: it moves them aside */
    uint8_t prev_word;          /* the cleaner's previousWord after the last scalar taken (2: none taken) */
    uint8_t list_kind;          /* ListMarker: 0 none, 1 number, 2 letter, 3 bullet (value in list_value) */
    uint8_t pend;               /* a sentence end the loop holds: VCK_PEND_* */
    uint8_t pend_first_token, pend_prev_lower; /* LatinEnd.firstToken, .previousWordLower */
    /* A two- or three-byte sequence cut off at the end of a push, held by the loop (the stream
       decoder would hold the same bytes): carry_len bytes of carry_need. */
    uint8_t carry[3], carry_len, carry_need;
    int64_t quote_depth;        /* quoteDepth */
    int64_t list_value;
    int64_t pend_end, pend_dots; /* LatinEnd.end (or the hard end's), .dots */
    int64_t next_index, emitted_in_reply;
    int64_t emoji_count;        /* the builder's emoji for the current segment (0 after an emit takes them) */
    int64_t first_comma_chars;  /* read only: min_first_chars, or INT64_MAX when first_segment is not comma */
    /* Buffers lent by the builder for one call, with room for what the call may write. */
    uint8_t *seg;               /* the segment (seg_count bytes) */
    uint8_t *ready_text;        /* ready texts, each followed by a NUL (ready_len bytes) */
    uint8_t *ready_entries;     /* vck_ready entries (ready_count of them) */
    int64_t ready_len, ready_count;
    int64_t ready_text_cap, ready_entries_cap; /* room in bytes and entries */
    /* Read only, set once: the kind table, and the abbreviation table of every language (open
       addressing over the words' FNV hashes, HashedWordTable; a slot is empty when its value is 0). */
    const uint8_t *kinds;
    const uint64_t *abbrev_keys;
    const uint8_t *abbrev_values;
    uint64_t abbrev_mask;
    uint64_t abbrev_allowed;    /* bit k: the abbreviations of language set k apply (Abbreviations.allowedSets) */
    /* The word before a held `.` (WordClass, VCK_CLASS_*) and its value (the number, the initial,
       or 1 for the initial I), for the verdict the next scalar brings. */
    uint8_t pend_class;
    int64_t pend_value;
    uint8_t paragraph_ok;       /* the cleaner passes a blank line as a plain boundary (no heading line) */
    /* --- end split9 --- */

    /* --- split11: the usual push's entry (vck_split_push) --- */
    uint8_t push_armed;         /* the builder's state allows the loop at any push's start, and what
                                   the loop changes is taken back only when a push leaves it */
    int64_t seg_cap;            /* room at seg (bytes), while push_armed */
    /* --- end split11 --- */
} vck_plain_state;

/* Takes plain text from p[i] up to at most p[n]: returns where it stopped (i when it took nothing).
 * The bytes taken (less any space dropped between two CJK scalars) are written at dst, which must
 * have room for n - i bytes; the bytes of that room after the ones taken may be overwritten (the
 * copy moves whole words). `kinds` has 65536 entries. */
/* Hidden: called from Swift in the same library, so the call needs no PLT entry. */
__attribute__((visibility("hidden")))
size_t vck_plain_run(const uint8_t *restrict p, size_t i, size_t n, const uint8_t *restrict kinds,
                     uint8_t *restrict dst, vck_plain_state *restrict st);

/* Moves the first m bytes (w <= m <= 2w, w at most 16) as two w-byte moves, the second ending at
 * m: one branch-free copy for every length in that range. Inline with a constant w, so each move
 * is one load and one store. */
static inline __attribute__((always_inline)) void vck_move_ends(uint8_t *restrict dst, const uint8_t *restrict src,
                                                                size_t m, size_t w) {
    uint8_t a[16], b[16];
    __builtin_memcpy(a, src, w);
    __builtin_memcpy(b, src + m - w, w);
    __builtin_memcpy(dst, a, w);
    __builtin_memcpy(dst + m - w, b, w);
}

/* Copies len bytes (at most 64) without a libc call: for the few bytes of a delta the call and its
 * size dispatch cost more than the copy (SentenceSplitter.joinSplitScalar). Inline, so Swift's
 * optimizer sees the constant-size moves. */
static inline void vck_copy_short(uint8_t *restrict dst, const uint8_t *restrict src, size_t len) {
    if (len >= 16) {
        for (size_t k = 0; k + 16 <= len; k += 16) __builtin_memcpy(dst + k, src + k, 16);
        __builtin_memcpy(dst + len - 16, src + len - 16, 16);
    } else if (len >= 8) {
        vck_move_ends(dst, src, len, 8);
    } else if (len >= 4) {
        vck_move_ends(dst, src, len, 4);
    } else {
        for (size_t k = 0; k < len; k++) dst[k] = src[k];
    }
}

#ifdef __cplusplus
}
#endif
#endif
