/* The sentence splitter's common case in one C loop per push (Sources/VoiceCore/SentenceSplitter/
 * SegmentBuilder.swift, takeRun): plain runs (vck_plain_run), spaces, the usual sentence ends —
 * `. ! ?` after a plain word followed by a space and a word, `。！？` followed by a space or a word
 * — and emitting the segment, with ready segments stored as C data (a byte arena of NUL-terminated
 * texts and an array of vck_ready entries, both owned by the builder). Everything else returns to
 * the Swift builder, which stays the reference implementation: the loop stops before the first
 * scalar it does not take. Internal to libvoicecore: not part of voicecore.h. */
#ifndef VOICECORE_SPLIT_RUN_H
#define VOICECORE_SPLIT_RUN_H

#include "vck_plain_run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* vck_plain_state.pend: a sentence end held for its lookahead. DOT and EXCLAIM stand for the
 * builder's PendingEnd.latin (mark .dot or .exclaim, pend_dots dots, no spaced dots, the word class
 * in pend_class), HARD for PendingEnd.hard. */
enum { VCK_PEND_NONE = 0, VCK_PEND_DOT = 1, VCK_PEND_EXCLAIM = 2, VCK_PEND_HARD = 3 };

/* vck_plain_state.pend_class: the builder's WordClass of the word before a held end (the C loop
 * leaves .empty and .openerOnly to the builder). */
enum { VCK_CLASS_WORD = 0, VCK_CLASS_NUMBER = 1, VCK_CLASS_INITIAL_UPPER = 2, VCK_CLASS_INITIAL_LOWER = 3,
       VCK_CLASS_TITLE = 4, VCK_CLASS_OTHER = 5, VCK_CLASS_ACRONYM = 6, VCK_CLASS_MULTI_PERIOD = 7,
       VCK_CLASS_UNKNOWN = 8 };

/* A ready segment: its text is ready_text[start ..< start + len], a NUL after it. */
typedef struct {
    int64_t start, len, index;
    int64_t emoji_count;        /* its emoji are kept by the Swift builder, in segment order */
} vck_ready;

/* Takes text from p[i] up to at most p[n] in clean_for_speech mode (otherwise only plain runs) and
 * returns where it stopped. st->seg must have room for n - i + 4 more bytes, st->ready_text for
 * seg_count + 2 (n - i) + 12, st->ready_entries for n - i + 4 more entries. The loop may hold a
 * sentence end (st->pend) when it returns; the caller turns it back into its own state. */
/* Hidden: called from Swift in the same library (no PLT entry). */
__attribute__((visibility("hidden")))
size_t vck_split_run(const uint8_t *restrict p, size_t i, size_t n, vck_plain_state *restrict st);

/* The usual push (split11): when st->push_armed and the lent buffers have the room vck_split_run
 * asks for p[0 ..< n], runs it from 0 and returns where it stopped; otherwise returns SIZE_MAX and
 * changes nothing (the caller makes room or takes the push its own way). Between armed pushes the
 * builder leaves seg_count, prev_word (not reset per call: the last scalar's), emoji_taken and pend
 * to the loop and takes them back when a push does not end in it. */
__attribute__((visibility("hidden")))
size_t vck_split_push(const uint8_t *restrict p, size_t n, vck_plain_state *restrict st);

/* Emits seg[..< end] (trimmed) as a ready segment when it has anything speakable (returns 1; its
 * entry counts st->emoji_count emoji, which then go: emoji_count 0, emoji_taken set), and starts a new segment
 * (seg_count 0, the segment's facts reset). Room: end + 1 bytes of ready text, one entry. */
__attribute__((visibility("hidden")))
int vck_emit(vck_plain_state *st, int64_t end);

#ifdef __cplusplus
}
#endif
#endif
