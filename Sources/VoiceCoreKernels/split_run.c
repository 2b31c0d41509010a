/* The splitter's common case in one loop per push; see include/vck_split_run.h. Each branch
 * restates what the Swift builder (SegmentBuilder.feed/normal/whitespace/period/mark/resolveLatin
 * /emit) does with the same scalar in the same state; any state or scalar not listed here returns
 * to it. */
#include "plain_scan.h"
#include "vck_split_run.h"

#include <string.h>

/* SegmentBuilder.startSegment. */
static void start_segment(vck_plain_state *st) {
    st->seg_count = 0;
    st->chars = 0;
    st->has_word = 0;
    st->space_pending = 0;
    st->cjk = 0;
    st->quote_depth = 0;
    st->last = 0;
    st->space_before_removed = 0;
    st->list_kind = 0;
    st->list_value = 0;
    st->token_start = 0;
    st->token_has_word = 0;
    st->token_first_lower = 0;
    st->token_index = 0;
    st->previous_word_lower = 0;
    st->clause_break = st->clause_chars = 0;
    st->space_break = st->space_chars = 0;
    st->cjk_break = st->cjk_chars = 0;
}

/* Copies a segment's text: from 16 to 64 bytes (most segments) with four 16-byte moves that
 * overlap as the length needs, without a loop whose exit depends on the length (mispredicted
 * once in two segments); other lengths with vck_copy_short. Reads and writes only [0, len). */
static inline void copy_segment_text(uint8_t *restrict dst, const uint8_t *restrict src, size_t len) {
    if (len - 16 <= 48) {
        size_t last = len - 16, second = last < 16 ? last : 16, third = last < 32 ? last : 32;
        uint8_t a[16], b[16], c[16], d[16];
        __builtin_memcpy(a, src, 16);
        __builtin_memcpy(b, src + second, 16);
        __builtin_memcpy(c, src + third, 16);
        __builtin_memcpy(d, src + last, 16);
        __builtin_memcpy(dst, a, 16);
        __builtin_memcpy(dst + second, b, 16);
        __builtin_memcpy(dst + third, c, 16);
        __builtin_memcpy(dst + last, d, 16);
        return;
    }
    vck_copy_short(dst, src, len);
}

/* Whether the three bytes before end are U+3000 (E3 80 80), an ideographic space: one compare
 * (a segment in CJK ends with E3 80 82, 。, which tested byte by byte was mispredicted). */
static inline int ideographic_space_ends(const uint8_t *end) {
    uint16_t tail;
    memcpy(&tail, end - 2, 2);
    return end[-3] == 0xE3 && tail == 0x8080;
}

int vck_emit(vck_plain_state *st, int64_t end) {
    const uint8_t *t = st->seg;
    int64_t lo = 0, hi = end;
    while (lo < hi && t[lo] <= 0x20) lo++;
    while (hi > lo && t[hi - 1] <= 0x20) hi--;
    /* Non-ASCII whitespace at the edges (no-break space, ideographic space). */
    while (hi - lo >= 2 && t[hi - 2] == 0xC2 && t[hi - 1] == 0xA0) hi -= 2;
    while (hi - lo >= 3 && ideographic_space_ends(t + hi)) hi -= 3;
    int took = 0;
    if (lo < hi && (st->has_word || !st->clean)) {
        size_t len = (size_t)(hi - lo);
        uint8_t *dst = st->ready_text + st->ready_len;
        /* Inline: a segment is some thirty bytes, for which libc's call and its size dispatch
           cost more than the copy (and mispredicted once per segment). */
        copy_segment_text(dst, t + lo, len);
        dst[len] = 0;
        vck_ready e = {st->ready_len, (int64_t)len, st->next_index, st->emoji_count};
        memcpy(st->ready_entries + (size_t)st->ready_count * sizeof e, &e, sizeof e);
        st->ready_len += (int64_t)len + 1;
        st->ready_count += 1;
        st->next_index += 1;
        st->emitted_in_reply += 1;
        /* The builder's emoji went with this segment: it moves them to the ready side. */
        if (st->emoji_count) {
            st->emoji_taken = 1;
            st->emoji_count = 0;
        }
        took = 1;
    }
    start_segment(st);
    /* The first-segment comma rule (SegmentBuilder.refreshCommaFrom): quotes closed, perhaps one more emitted. */
    st->comma_from = st->emitted_in_reply == 0 ? st->first_comma_chars : INT64_MAX;
    return took;
}

/* ScalarClass.lower for the scalars classify_token reads. */
static inline uint32_t lower_scalar(uint32_t c) {
    if (c < 0x80) return c - 'A' < 26 ? c | 0x20 : c;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
    return c;
}

/* The scalar of the two-byte sequence at t, whose lead byte is D0 or D1 (U+0400-U+047F), in a
 * well-formed token. */
static inline uint32_t cyrillic_at(const uint8_t *t) {
    return ((uint32_t)(t[0] & 0x1F) << 6) | (t[1] & 0x3F);
}

/* lower_scalar for U+0400-U+045F, without its tests for other scripts: А-Я (U+0410-U+042F) and
 * Ѐ-Џ (U+0400-U+040F) move to their small letters. */
static inline uint32_t lower_cyrillic(uint32_t c) {
    return c + (c - 0x410 < 0x20 ? 0x20u : 0u) + (c < 0x410 ? 0x50u : 0u);
}

/* Abbreviations.kind(ofHash:) for this splitter's languages: TITLE, OTHER, or WORD when it is none. */
static inline unsigned abbreviation_class(const vck_plain_state *st, uint64_t h) {
    uint64_t mask = st->abbrev_mask, s = (h ^ (h >> 29)) & mask;
    while (st->abbrev_values[s]) {
        if (st->abbrev_keys[s] == h) {
            unsigned v = st->abbrev_values[s] - 1u;
            if (!((st->abbrev_allowed >> (v & 0x3F)) & 1)) return VCK_CLASS_WORD;
            return v & 0x80 ? VCK_CLASS_OTHER : VCK_CLASS_TITLE;
        }
        s = (s + 1) & mask;
    }
    return VCK_CLASS_WORD;
}

/* SegmentBuilder.classify for the current token (the word before a period), when the C loop can
 * tell every scalar's facts: ASCII, Cyrillic U+0400-U+045F and Latin-1/Latin Extended-A letters
 * (U+00C0-U+017F but × ÷), and CJK-kind scalars (letters: ScalarClass.isLetter holds for CJK);
 * VCK_CLASS_UNKNOWN otherwise, and for the classes that need a scalar's case outside ASCII and
 * Cyrillic. The builder wrote the token, so it is well-formed UTF-8. */
static __attribute__((noinline)) unsigned classify_any_token(const vck_plain_state *st, int64_t *value) {
    const uint8_t *t = st->seg + st->token_start;
    int64_t len = st->seg_count - st->token_start, k = 0, count = 0, number = 0;
    uint64_t h = 0xcbf29ce484222325ULL;
    int leading = 1, all_digits = 1, has_dot = 0, letters_and_dots = 1, first_simple = 1;
    uint32_t first = 0;
    /* The usual token, ASCII letters (perhaps followed by digits or dots), in a tight loop first;
       the general loop below goes on with the same facts. */
    if (len > 0 && (t[0] | 0x20u) - 'a' < 26) {
        first = t[0];
        leading = 0;
        all_digits = 0;
        do {
            h = (h ^ (t[k] | 0x20u)) * 0x100000001B3ULL;
            k += 1;
        } while (k < len && (t[k] | 0x20u) - 'a' < 26);
        count = k;
    } else if (len > 0 && (t[0] & 0xFE) == 0xD0 && cyrillic_at(t) <= 0x45F) {
        /* The usual token after the ASCII one: Cyrillic letters (U+0400-U+045F, lead byte D0 or
           D1), in a tight loop as well; the general loop took some 40 instructions per letter. */
        first = cyrillic_at(t);
        leading = 0;
        all_digits = 0;
        do {
            uint32_t c = cyrillic_at(t + k);
            if (c > 0x45F) break;
            h = (h ^ lower_cyrillic(c)) * 0x100000001B3ULL;
            k += 2;
            count += 1;
        } while (k < len && (t[k] & 0xFE) == 0xD0);
    }
    while (k < len) {
        uint32_t c = t[k];
        if (c < 0x80) {
            k += 1;
            /* ScalarClass.isOpener (ASCII): skipped before the word. */
            if (leading && (c == 0x22 || c == 0x27 || c == 0x28 || c == 0x5B || c == 0x7B)) continue;
            if (c != '.' && (c | 0x20) - 'a' >= 26) letters_and_dots = 0;
        } else if (c < 0xE0) {
            c = ((c & 0x1F) << 6) | (t[k + 1] & 0x3F);
            k += 2;
            if (c >= 0x400 && c <= 0x45F) {
                /* Cyrillic: letters, neither opener nor bullet. */
            } else if (c >= 0xC0 && c <= 0x17F && c != 0xD7 && c != 0xF7) {
                if (count == 0) first_simple = 0;
            } else {
                return VCK_CLASS_UNKNOWN;
            }
        } else if (c < 0xF0) {
            c = ((c & 0x0F) << 12) | ((uint32_t)(t[k + 1] & 0x3F) << 6) | (t[k + 2] & 0x3F);
            k += 3;
            if ((st->kinds[c] & VCK_PLAIN_KIND_MASK) != VCK_PLAIN_CJK) return VCK_CLASS_UNKNOWN;
            if (count == 0) first_simple = 0;
        } else {
            return VCK_CLASS_UNKNOWN;
        }
        leading = 0;
        if (count == 0) first = c;
        count += 1;
        if (c == '.') has_dot = 1;
        if (c - '0' < 10) {
            if (number < 1000000) number = number * 10 + (c - '0');
        } else {
            all_digits = 0;
        }
        h = (h ^ lower_scalar(c)) * 0x100000001B3ULL;
    }
    if (count == 0) return VCK_CLASS_UNKNOWN; /* .empty, .openerOnly */
    if (all_digits) {
        *value = number;
        return VCK_CLASS_NUMBER;
    }
    if (count == 1) {
        /* An initial: its case decides (asked only of ASCII and Cyrillic here). */
        if (!first_simple) return VCK_CLASS_UNKNOWN;
        if (first < 0x80) {
            if ((first | 0x20) - 'a' < 26) {
                if (first - 'A' < 26) {
                    *value = first == 'I';
                    return VCK_CLASS_INITIAL_UPPER;
                }
                *value = first;
                return VCK_CLASS_INITIAL_LOWER;
            }
        } else {
            if (first < 0x430) {
                *value = 0;
                return VCK_CLASS_INITIAL_UPPER;
            }
            *value = first;
            return VCK_CLASS_INITIAL_LOWER;
        }
    }
    unsigned abbreviation = abbreviation_class(st, h);
    if (abbreviation != VCK_CLASS_WORD) return abbreviation;
    if (!has_dot) return VCK_CLASS_WORD;
    return letters_and_dots ? VCK_CLASS_ACRONYM : VCK_CLASS_MULTI_PERIOD;
}

/* classify_token for the usual token: letters of one script, ASCII or Cyrillic (U+0400-U+045F),
 * and nothing else, which is a word, an initial or an abbreviation. A leaf with few live values
 * (classify_any_token's general loop saves and restores six registers on every call); any other
 * token goes to classify_any_token, which starts over. */
static __attribute__((noinline)) unsigned classify_token(const vck_plain_state *st, int64_t *value) {
    const uint8_t *t = st->seg + st->token_start;
    int64_t len = st->seg_count - st->token_start, k = 0;
    uint64_t h = 0xcbf29ce484222325ULL;
    if (len <= 0) return classify_any_token(st, value);
    uint32_t first = t[0];
    if ((first | 0x20u) - 'a' < 26) {
        do {
            h = (h ^ (t[k] | 0x20u)) * 0x100000001B3ULL;
            k += 1;
        } while (k < len && (t[k] | 0x20u) - 'a' < 26);
        if (k < len) return classify_any_token(st, value);
        if (len == 1) {
            if (first - 'A' < 26) {
                *value = first == 'I';
                return VCK_CLASS_INITIAL_UPPER;
            }
            *value = first;
            return VCK_CLASS_INITIAL_LOWER;
        }
    } else if ((first & 0xFE) == 0xD0 && (first = cyrillic_at(t)) <= 0x45F) {
        do {
            uint32_t c = cyrillic_at(t + k);
            if (c > 0x45F) return classify_any_token(st, value);
            h = (h ^ lower_cyrillic(c)) * 0x100000001B3ULL;
            k += 2;
        } while (k < len && (t[k] & 0xFE) == 0xD0);
        if (k < len) return classify_any_token(st, value);
        if (len == 2) {
            if (first < 0x430) {
                *value = 0;
                return VCK_CLASS_INITIAL_UPPER;
            }
            *value = first;
            return VCK_CLASS_INITIAL_LOWER;
        }
    } else {
        return classify_any_token(st, value);
    }
    return abbreviation_class(st, h);
}

/* SegmentBuilder.startsNextListItem(dot: true): in a segment that started with list marker N (or
 * letter x), the token "N+1" (or "y") before a period starts the next item. */
static __attribute__((noinline)) int starts_next_list_item(const vck_plain_state *st) {
    const uint8_t *t = st->seg + st->token_start;
    int64_t len = st->seg_count - st->token_start;
    if (st->list_kind == 1) {
        if (len <= 0 || len > 3) return 0;
        int64_t v = 0;
        for (int64_t k = 0; k < len; k++) {
            if ((unsigned)(t[k] - '0') >= 10) return 0;
            v = v * 10 + (t[k] - '0');
        }
        return v == st->list_value + 1;
    }
    if (st->list_kind == 2) return len == 1 && t[0] == st->list_value + 1;
    return 0;
}

/* ScalarClass.isUppercase of a plain scalar with kernel-table entry `entry`: 1 or 0, or -1 when
 * the loop cannot tell (outside ASCII, Cyrillic and the CJK block range). */
static inline int is_upper(uint32_t c, uint8_t entry) {
    if (c < 0x80) return c - 'A' < 26;
    if (c >= 0x400 && c <= 0x45F) return c < 0x430;
    if (c >= 0x2E80 && c <= 0xFFEF) return 0;
    return (entry & VCK_PLAIN_LOWER) ? 0 : -1;
}

/* resolveLatin's verdict on a held `.` `!` `?` (a word before it, no quotes open) with the plain
 * scalar c that follows (after a space when space_pending): 1 ends the sentence, 0 goes on, -1
 * leaves it to the builder (the word after an acronym or an `other` abbreviation decides there,
 * or a fact the loop cannot tell). */
static __attribute__((noinline)) int latin_verdict(const vck_plain_state *st, uint32_t c, uint8_t entry, unsigned kind) {
    int exclaim = st->pend == VCK_PEND_EXCLAIM, ends;
    unsigned cls = st->pend_class;
    int digit = c - '0' < 10 || c - 0xFF10 < 10;
    if (!st->space_pending) {
        /* endsSentence without a space: CJK ends; after `.` nothing else; after `!` `?` what is no
           word scalar, `,` or `:` (the loop leaves those kinds to the builder). */
        if (kind == VCK_PLAIN_CJK) return 1;
        return exclaim && kind != VCK_PLAIN_WORD && c != ',' && c != ':';
    }
    if (entry & VCK_PLAIN_LOWER) return 0;
    if (exclaim) {
        ends = 1;
    } else {
        switch (cls) {
        case VCK_CLASS_NUMBER: ends = !st->pend_first_token; break;
        case VCK_CLASS_INITIAL_UPPER: ends = st->pend_value && st->pend_prev_lower && !digit; break;
        case VCK_CLASS_INITIAL_LOWER: case VCK_CLASS_TITLE: ends = 0; break;
        case VCK_CLASS_OTHER: ends = !digit; break;
        default: ends = 1; break; /* word, acronym, several periods */
        }
    }
    if (ends && (cls == VCK_CLASS_ACRONYM || cls == VCK_CLASS_OTHER) && is_upper(c, entry) != 0) return -1;
    return ends;
}

/* The table entry of the whole BMP scalar at p[i] (0 when it is not whole, well-formed, in the BMP). */
static inline uint8_t entry_at(const uint8_t *p, size_t i, size_t n, const uint8_t *kinds, uint32_t *c) {
    if (p[i] < 0x80) {
        *c = p[i];
        return kinds[p[i]];
    }
    if (!decode_bmp(p, i, n, c)) return 0;
    return kinds[*c];
}

/* A sentence mark that the loop holds (pending) at the segment's end. */
static inline void hold_mark(vck_plain_state *st, unsigned pend, int64_t dots) {
    st->pend = (uint8_t)pend;
    st->pend_class = VCK_CLASS_WORD;
    st->pend_end = st->seg_count;
    st->pend_dots = dots;
    st->pend_first_token = st->token_index == 0;
    st->pend_prev_lower = st->previous_word_lower;
}

/* Holds the bytes p[i..<n] when they are a well-formed start of a two- or three-byte sequence cut
 * off by the end of the push (what the stream decoder would hold); returns whether it did. */
static inline int carry_cut(const uint8_t *p, size_t i, size_t n, vck_plain_state *st) {
    size_t left = n - i;
    uint8_t b0 = p[i];
    unsigned need;
    if (b0 >= 0xC2 && b0 <= 0xDF) need = 2;
    else if ((b0 & 0xF0) == 0xE0) need = 3;
    else return 0;
    if (left >= need) return 0;
    if (left == 2) {
        uint8_t b1 = p[i + 1];
        uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
        if (b1 < lo || b1 > hi) return 0;
        st->carry[1] = b1;
    }
    st->carry[0] = b0;
    st->carry_len = (uint8_t)left;
    st->carry_need = (uint8_t)need;
    return 1;
}

/* Emphasis stars and code ticks in running text: the cleaner drops them without a trace
 * (SpeechCleaner.plain; the cleaner's previousWord stays), and the loop runs only while the
 * cleaner is idle. */
static inline int is_dropped(uint8_t b) { return b == 0x2A || b == 0x60; }

/* ASCII punctuation that means nothing to the idle cleaner or the builder beyond going into the
 * segment (SegmentBuilder.normal's default case; the cleaner's passesASCII): no quote, bracket,
 * mark, clause mark, closer, markdown or tag character. */
static inline int is_plain_punct(uint32_t c) {
    switch (c) {
    case '#': case '$': case '%': case '&': case '+': case '/': case '=': case '>': case '@': case '\\': case '^':
    case '|':
        return 1;
    default:
        return 0;
    }
}

/* A blank line ("\n\n") followed by a byte that opens no markdown at a line's start: what the idle
 * cleaner does with it is whitespace() for the first line break and boundary() for the second
 * (SpeechCleaner.line/lineStart), and the byte after it starts the line as plain text. */
static inline int paragraph_break(const uint8_t *p, size_t i, size_t n, const vck_plain_state *st) {
    if (!st->paragraph_ok || i + 2 >= n || p[i + 1] != 0x0A) return 0;
    uint8_t b = p[i + 2];
    if (b >= 0x80) return 1;
    switch (b) {
    case 0x20: case 0x09: case 0x0D: case 0x0A: case 0x60: case 0x23: case 0x2D: case 0x2A: case 0x2B: case 0x3E:
    case 0x3C: case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37: case 0x38:
    case 0x39:
        return 0;
    default:
        return 1;
    }
}

/* ScalarClass.isCloser. */
static inline int is_closer(uint32_t c) {
    switch (c) {
    case 0x22: case 0x27: case 0x29: case 0x5D: case 0x7D: case 0x2019: case 0x201D: case 0xBB: case 0x203A:
    case 0x300D: case 0x300F: case 0xFF09: case 0x3011: case 0x300B: case 0x3009: case 0xFF3D: case 0xFF5D:
    case 0x3015: case 0x3017: case 0x3019: case 0x301B: case 0x301E: case 0x301F: case 0xFF02: case 0xFF07:
        return 1;
    default:
        return 0;
    }
}

/* Quotes and brackets the loop takes, as SegmentBuilder.trackQuote counts them: +1 opens, -1
 * closes, 0 for anything else. (Straight quotes, `[ ]` and ‘ ’ are left to the builder.) */
static inline __attribute__((always_inline)) int quote_step(uint32_t c) {
    switch (c) {
    case 0x28: case 0xAB: case 0x201C: case 0x201E: case 0x300A: case 0x3008: case 0x300C: case 0x300E:
        return 1;
    case 0x29: case 0xBB: case 0x201D: case 0x300B: case 0x3009: case 0x300D: case 0x300F:
        return -1;
    default:
        return 0;
    }
}

/* SegmentBuilder.append for a scalar that is no word scalar (punctuation, quotes), whole at p[i]. */
static inline __attribute__((always_inline)) void append_mark(vck_plain_state *st, const uint8_t *p, size_t i, size_t len, uint32_t c) {
    int q = quote_step(c);
    if (q) {
        if (q > 0) st->quote_depth += 1;
        else if (st->quote_depth > 0) st->quote_depth -= 1;
        st->comma_from = st->emitted_in_reply == 0 && st->quote_depth == 0 ? st->first_comma_chars : INT64_MAX;
    }
    memcpy(st->seg + st->seg_count, p + i, len);
    st->seg_count += (int64_t)len;
    st->last = c;
    st->chars += 1;
    st->cjk = 0;
    st->prev_word = 0;
}

/* materializeSpace(before:) for a scalar that is neither CJK nor dropped after removed text. */
static inline void materialize_space(vck_plain_state *st, int keep) {
    st->space_pending = 0;
    st->space_before_removed = 0;
    if (keep) {
        st->seg[st->seg_count++] = 0x20;
        st->chars += 1;
    }
    st->space_break = st->seg_count;
    st->space_chars = st->chars;
    if (st->token_has_word) {
        st->token_index += 1;
        st->previous_word_lower = st->token_first_lower;
    }
    st->token_start = st->seg_count;
    st->token_has_word = 0;
}

/* The loop itself (inlined in both uses below). */
static inline __attribute__((always_inline)) size_t split_loop(const uint8_t *restrict p, size_t i, size_t n,
                                                               vck_plain_state *restrict st) {
    const uint8_t *kinds = st->kinds;
    const int64_t limit = st->max_chars - 1;
    while (i < n) {
        uint8_t b = p[i];
        if (st->pend == VCK_PEND_NONE) {
            if (st->space_pending) {
                if (b == 0x20 && st->clean) {
                    st->prev_word = 0;
                    i++;
                    continue;
                }
                if (b == 0x0A && st->clean && paragraph_break(p, i, n, st)) {
                    st->prev_word = 0;
                    vck_emit(st, st->seg_count);
                    i += 2;
                    continue;
                }
                if (is_dropped(b) && st->clean) {
                    i++;
                    continue;
                }
                /* A held space before a plain word scalar (appendPlainRun, materializeSpaceBeforePlain);
                   before anything else the builder decides whether it is kept. */
                unsigned kind = kind_at(p, i, n, kinds);
                if (kind == VCK_PLAIN_NONE && b >= 0xC2 && carry_cut(p, i, n, st)) return n;
                if ((kind != VCK_PLAIN_WORD && kind != VCK_PLAIN_CJK) || st->chars + 2 >= st->max_chars) break;
                materialize_space(st, st->clean && !(st->cjk && kind == VCK_PLAIN_CJK));
            }
            /* The scan clears space_before_removed itself when it takes a space (a branch here on
               took_space was mispredicted once in three scans). */
            size_t j = plain_scan(p, i, n, kinds, st->seg + st->seg_count, st);
            if (j > i) {
                st->prev_word = (unsigned)((kinds[st->last & 0xFFFF] & VCK_PLAIN_KIND_MASK) - 1) < 2;
                i = j;
                if (i >= n) break;
                b = p[i];
            }
            if (b >= 0xC2 && carry_cut(p, i, n, st)) return n;
            if (!st->clean) break;
            if (is_dropped(b)) {
                i++;
                continue;
            }
            if (b == 0x0A && paragraph_break(p, i, n, st)) {
                /* A blank line: the segment ends there (boundary()). */
                st->prev_word = 0;
                vck_emit(st, st->seg_count);
                i += 2;
                continue;
            }
            if (b == 0x20) {
                /* whitespace(): held until the next scalar; nothing to hold at a segment's start. */
                if (st->seg_count > 0) st->space_pending = 1;
                st->prev_word = 0;
                i++;
                continue;
            }
            if (st->chars >= limit) break;
            uint32_t c;
            size_t len = 1;
            if (b < 0x80) c = b;
            else if (!(len = decode_bmp(p, i, n, &c))) break;
            if (!st->space_pending) {
                /* The marks first: the commonest reason the scan stops. */
                if (c == 0x2E) {
                    /* period(): a list item may start here (the builder cuts), the token before it is
                       classified (a number or a lower-case initial opening the segment makes it a list
                       item), and the end is held for the next scalar's verdict; after CJK it is hard. */
                    if (st->list_kind && st->token_index > 0 && starts_next_list_item(st)) break;
                    int64_t value = 0;
                    unsigned cls = VCK_CLASS_WORD;
                    int list_open = st->token_index == 0 && st->list_kind == 0;
                    if (!st->cjk || list_open) {
                        cls = classify_token(st, &value);
                        if (cls == VCK_CLASS_UNKNOWN) break;
                        if (list_open && cls == VCK_CLASS_NUMBER) {
                            st->list_kind = 1;
                            st->list_value = value;
                        } else if (list_open && cls == VCK_CLASS_INITIAL_LOWER) {
                            st->list_kind = 2;
                            st->list_value = value;
                        }
                    }
                    int after_cjk = st->cjk;
                    append_mark(st, p, i, 1, c);
                    if (after_cjk) {
                        hold_mark(st, VCK_PEND_HARD, 0);
                    } else {
                        hold_mark(st, VCK_PEND_DOT, 1);
                        st->pend_class = (uint8_t)cls;
                        st->pend_value = value;
                    }
                    i += 1;
                    continue;
                }
                if (c == 0x21 || c == 0x3F) {
                    /* mark(): `! ?` after CJK end at once, otherwise like a period after a plain word. */
                    unsigned pend = st->cjk ? VCK_PEND_HARD : VCK_PEND_EXCLAIM;
                    append_mark(st, p, i, 1, c);
                    hold_mark(st, pend, 0);
                    i += 1;
                    continue;
                }
                if (c == 0x3002 || c == 0xFF01 || c == 0xFF1F || c == 0xFF1B) {
                    /* 。！？； (hard terminators that are not quotes or word scalars) end at once. */
                    append_mark(st, p, i, 3, c);
                    hold_mark(st, VCK_PEND_HARD, 0);
                    i += 3;
                    continue;
                }
            }
            if (quote_step(c)) {
                /* An opening or closing quote or bracket: counted, copied. A `)` that may end a list
                   marker at the segment's start, and a held space before removed text, are left. */
                if (c == 0x29 && (st->token_index == 0 || st->list_kind)) break;
                if (st->space_pending) {
                    if (st->space_before_removed || st->chars + 2 >= st->max_chars) break;
                    materialize_space(st, 1);
                }
                append_mark(st, p, i, len, c);
                i += len;
                continue;
            }
            if (is_plain_punct(c)) {
                /* normal()'s default case; a held space before it is kept (materializeSpace). */
                if (st->space_pending) {
                    if (st->space_before_removed || st->chars + 2 >= st->max_chars) break;
                    materialize_space(st, 1);
                }
                append_mark(st, p, i, 1, c);
                i += 1;
                continue;
            }
            if (st->space_pending) break;
            if (c == 0x3005 || c == 0x3007) {
                /* 々 〇: CJK but no word scalars (normal(): a CJK break point, no word facts). */
                if (st->cjk) {
                    st->cjk_break = st->seg_count;
                    st->cjk_chars = st->chars;
                }
                append_mark(st, p, i, 3, c);
                st->cjk = 1;
                i += 3;
                continue;
            }
            if (c == 0x2026 && st->cjk) {
                /* mark(.ellipsis) after CJK: a hard end (the word before it changes nothing there). */
                append_mark(st, p, i, 3, c);
                hold_mark(st, VCK_PEND_HARD, 0);
                i += 3;
                continue;
            }
            break;
        }
        /* A held end and its lookahead (clean_for_speech only: otherwise spaces are text). */
        if (!st->clean) break;
        /* The space first: what follows a mark most often, and one test (the dropped bytes and
           the blank line, tested first, cost a mispredicted range test). */
        if (b == 0x20) {
            st->prev_word = 0;
            if (st->pend == VCK_PEND_HARD) {
                /* whitespace(): a hard end is emitted (the space goes with it) outside quotes. */
                if (st->quote_depth == 0) {
                    st->pend = VCK_PEND_NONE;
                    vck_emit(st, st->pend_end);
                    i++;
                    continue;
                }
                st->pend = VCK_PEND_NONE;
            }
            st->space_pending = 1;
            i++;
            continue;
        }
        if (is_dropped(b)) {
            i++;
            continue;
        }
        if (b == 0x0A && paragraph_break(p, i, n, st)) {
            /* A blank line decides any held end: the whole segment goes (boundary()). */
            st->prev_word = 0;
            st->pend = VCK_PEND_NONE;
            vck_emit(st, st->seg_count);
            i += 2;
            continue;
        }
        uint32_t c = 0;
        uint8_t entry = entry_at(p, i, n, kinds, &c);
        unsigned kind = entry & VCK_PLAIN_KIND_MASK;
        if (kind == VCK_PLAIN_NONE) {
            if (b >= 0xC2 && carry_cut(p, i, n, st)) return n;
            /* A closing quote or bracket right after the mark stays with the sentence. */
            if (!st->space_pending && quote_step(c) < 0 && st->chars < limit) {
                append_mark(st, p, i, b < 0x80 ? 1 : 3 - (c < 0x800), c);
                st->pend_end = st->seg_count;
                i += b < 0x80 ? 1 : 3 - (c < 0x800);
                continue;
            }
            /* More marks right after a hard end outside quotes stay with it (settleMark). */
            if (st->pend == VCK_PEND_HARD && !st->space_pending && st->quote_depth == 0 && st->chars < limit &&
                (c == '.' || c == '!' || c == '?' || c == ';' || c == 0x2026 || c == 0x3002 || c == 0xFF01 ||
                 c == 0xFF1F || c == 0xFF1B)) {
                size_t len = b < 0x80 ? 1 : 3;
                append_mark(st, p, i, len, c);
                st->pend_end = st->seg_count;
                i += len;
                continue;
            }
            /* Plain punctuation decides the end like a mark of the plain kinds (it closes nothing). */
            if (!is_plain_punct(c)) break;
            kind = VCK_PLAIN_MARK;
        }
        /* The apostrophe is also a closer: right after the mark it stays with it (the builder). */
        if (c == 0x27 && !st->space_pending) break;
        int ends;
        if (st->pend == VCK_PEND_HARD) {
            /* Inside quotes the mark ends nothing; 「…。」と: a quotation followed by the particle
               と/っ goes on. */
            ends = st->quote_depth == 0 &&
                   !((c == 0x3068 || c == 0x3063) && st->pend_end > 0 && is_closer(st->last));
        } else if (!st->has_word || st->quote_depth != 0) {
            /* resolveLatin: inside quotes (or without a word) nothing ends. */
            ends = 0;
        } else {
            ends = latin_verdict(st, c, entry, kind);
            if (ends < 0) break;
        }
        if (ends) {
            st->pend = VCK_PEND_NONE;
            vck_emit(st, st->pend_end);
        } else {
            st->pend = VCK_PEND_NONE;
        }
    }
    return i;
}

size_t vck_split_run(const uint8_t *restrict p, size_t i, size_t n, vck_plain_state *restrict st) {
    if (!st->carry_len) return split_loop(p, i, n, st);
    /* The held sequence, completed by the first bytes of this push, and the rest of the push go
       through the loop together from a scratch copy (one pass, as if the push had not been cut);
       when the loop does not take the sequence the carry stays for the caller's decoder. */
    size_t need = st->carry_need, held = st->carry_len, used = need - held;
    uint8_t scratch[64];
    if (i != 0 || n < used || n - used > sizeof scratch - need) return i;
    uint32_t c;
    /* Inline copies: a push is a few bytes, for which libc's call and size dispatch cost more. */
    for (size_t k = 0; k < held; k++) scratch[k] = st->carry[k];
    vck_copy_short(scratch + held, p, n);
    if (decode_bmp(scratch, 0, need, &c) != need) return i;
    st->carry_len = 0;
    size_t m = need + (n - used), j = split_loop(scratch, 0, m, st);
    if (j < need) {
        st->carry_len = (uint8_t)held;
        return i;
    }
    return used + (j - need);
}

size_t vck_split_push(const uint8_t *restrict p, size_t n, vck_plain_state *restrict st) {
    /* The room vck_split_run asks for (the builder's lendBuffers), tested here so the push's
       Swift side is one call. Sizes of memory: no overflow. */
    int64_t room = (int64_t)n;
    if (!st->push_armed || st->seg_count + room + 4 > st->seg_cap
        || st->ready_len + st->seg_count + 2 * room + 12 > st->ready_text_cap
        || st->ready_count + room + 4 > st->ready_entries_cap)
        return SIZE_MAX;
    return vck_split_run(p, 0, n, st);
}
