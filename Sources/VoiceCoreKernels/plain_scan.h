/* The scan of a run of plain text (vck_plain_run's body), in a header so that any C loop of the
 * splitter can inline it. It mirrors, scalar for scalar, what the builder's slow path does with the
 * same text (SplitterFastPathTests compares the two), so every test below restates one of the slow
 * path's rules. Internal to the kernels. */
#ifndef VOICECORE_PLAIN_SCAN_H
#define VOICECORE_PLAIN_SCAN_H

#include "vck_plain_run.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Decodes the well-formed two- or three-byte sequence at p[i] that lies wholly before n into *c;
 * returns its length, or 0 (malformed, four-byte or cut off: the slow path deals with those). */
static inline __attribute__((always_inline)) size_t decode_bmp(const uint8_t *p, size_t i, size_t n, uint32_t *c) {
    uint8_t b0 = p[i];
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80) return 0;
        *c = ((uint32_t)(b0 & 0x1F) << 6) | (p[i + 1] & 0x3F);
        return 2;
    }
    if ((b0 & 0xF0) == 0xE0) {
        if (i + 2 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80) return 0;
        uint32_t v = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
        /* Overlong forms and surrogates are malformed. */
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        *c = v;
        return 3;
    }
    return 0;
}

/* The kind of the scalar at p[i], or NONE when it is not whole and well-formed in the BMP. */
static inline unsigned kind_at(const uint8_t *p, size_t i, size_t n, const uint8_t *kinds) {
    if (i >= n) return VCK_PLAIN_NONE;
    if (p[i] < 0x80) return kinds[p[i]] & VCK_PLAIN_KIND_MASK;
    uint32_t c;
    if (!decode_bmp(p, i, n, &c)) return VCK_PLAIN_NONE;
    return kinds[c] & VCK_PLAIN_KIND_MASK;
}

/* Copies a run of len bytes to the segment, and possibly more of the input after it: at most
 * avail bytes (what is left of the input from src, avail >= len). The destination has room for the
 * rest of the input (the contract of vck_plain_run), so whole words can be moved: runs are short
 * (deltas are a few bytes), and a libc call, or a dispatch on the run's own length, costs more
 * than the copy. Never reads past src + avail (the end of the caller's input may end a page). */
static inline void copy_run(uint8_t *restrict dst, const uint8_t *restrict src, size_t len, size_t avail) {
    if (len > 16) {
        /* Rare: 16-byte moves, the last one ending at len. */
        for (size_t k = 0; k + 16 < len; k += 16) __builtin_memcpy(dst + k, src + k, 16);
        __builtin_memcpy(dst + len - 16, src + len - 16, 16);
    } else if (avail >= 8) {
        /* Two 8-byte moves cover [0, m) for any m from 8 to 16: one branch for all lengths. */
        vck_move_ends(dst, src, len > 8 ? len : 8, 8);
    } else if (avail >= 4) {
        vck_move_ends(dst, src, len > 4 ? len : 4, 4);
    } else if (avail >= 2) {
        vck_move_ends(dst, src, avail, 2);
    } else if (avail) {
        dst[0] = src[0];
    }
}

/* ASCII letters and digits, one table entry per byte (bytes from 0x80 are not in it): the word
 * scan's byte-by-byte fallback and the test after a space. PlainScalar gives these, and only these,
 * ASCII bytes the kind WORD. */
static const uint8_t ascii_word[256] = {
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

/* Where the ASCII word that goes on at p[k] ends, looking no further than stop (<= n). The end of
 * a word is a data-dependent exit: one mispredicted branch per word when the scan goes byte by
 * byte. With SSE2 (baseline on x86-64) eight bytes are classified at once and the end is found
 * with a bit scan; the loop goes round again only for words longer than eight bytes. No load
 * reaches past p[n] (the end of the caller's input may end a page): near the end the load is the
 * eight bytes ending at p[n], and the bytes before p[k] are shifted out of the mask. */
static inline size_t ascii_word_end(const uint8_t *p, size_t k, size_t stop, size_t n) {
#ifdef __SSE2__
    if (n >= 8) {
        /* A letter: (b | 0x20) + 0x1F below -102 as a signed byte ('a'..'z' map to -128..-103);
           a digit: b + 0x50 below -118 ('0'..'9' map to -128..-119). No other byte lands there. */
        const __m128i case_bit = _mm_set1_epi8(0x20), to_letters = _mm_set1_epi8(0x1F);
        const __m128i letters_below = _mm_set1_epi8(-102), to_digits = _mm_set1_epi8(0x50);
        const __m128i digits_below = _mm_set1_epi8(-118);
        for (;;) {
            size_t at = k + 8 <= n ? k : n - 8, left = stop - k;
            __m128i x = _mm_loadl_epi64((const __m128i *)(const void *)(p + at));
            __m128i letter = _mm_cmpgt_epi8(letters_below, _mm_add_epi8(_mm_or_si128(x, case_bit), to_letters));
            __m128i digit = _mm_cmpgt_epi8(digits_below, _mm_add_epi8(x, to_digits));
            unsigned words = (unsigned)_mm_movemask_epi8(_mm_or_si128(letter, digit));
            /* Bit j: p[k + j] ends the word; bit `left` (or 8) stops the scan at stop. */
            unsigned ends = ((~words & 0xFFu) >> (k - at)) | (1u << (left < 8 ? left : 8));
            unsigned taken = (unsigned)__builtin_ctz(ends);
            k += taken;
            if (taken < 8) return k;
        }
    }
#endif
    while (k < stop && ascii_word[p[k]]) k++;
    return k;
}

/* The scan itself: vck_plain_run in full, inlined wherever it is used. */
static inline __attribute__((always_inline)) size_t plain_scan(const uint8_t *restrict p, size_t i, size_t n,
                                                               const uint8_t *restrict kinds, uint8_t *restrict dst,
                                                               vck_plain_state *restrict st) {
    const int64_t max = st->max_chars, limit = max - 1;
    int64_t chars = st->chars;
    /* lastScalar, lastWasCJK and tokenHasWord stay in the state: the loop has more live values
       than registers, and copies of them were only spilled to the stack and copied back. */
    uint8_t *out = dst;
    size_t run = i;
    /* The segment offset of p[k] is base + k (a dropped space shifts it by one). */
    int64_t base = st->seg_count - (int64_t)i;

    while (i < n && chars < limit) {
        uint8_t b = p[i];
        uint32_t c;
        size_t len;
        unsigned kind;
        if (b < 0x80) {
            kind = kinds[b] & VCK_PLAIN_KIND_MASK;
            if (kind == VCK_PLAIN_WORD) {
                /* ASCII letters and digits: only the first can start a token, the rest is a scan. */
                if (!st->token_has_word) {
                    st->token_has_word = 1;
                    st->token_first_lower = (uint8_t)(b - 'a') < 26;
                    st->has_word = 1;
                }
            ascii_word:;
                size_t room = (size_t)(limit - chars), stop = n - i < room ? n : i + room;
                size_t k = ascii_word_end(p, i + 1, stop, n);
                st->cjk = 0;
                st->last = p[k - 1];
                chars += (int64_t)(k - i);
                i = k;
                continue;
            }
            if (kind == VCK_PLAIN_NONE) {
                /* One space, then a plain word scalar: `materializeSpace` writes it as 0x20 (so it
                   stays in the copy), or drops it between two CJK scalars. The scalar after it is
                   classified here once and taken straight away (it fits: chars + 2 < max). */
                if (b != 0x20 || !st->clean || chars + 2 >= max || base + (int64_t)i <= 0 || i + 1 >= n) break;
                uint8_t next = p[i + 1];
                if (next < 0x80) {
                    /* ASCII: a word byte or nothing (no ASCII byte is CJK). */
                    if (!ascii_word[next]) break;
                    chars += 1;
                } else {
                    len = decode_bmp(p, i + 1, n, &c);
                    if (!len) break;
                    kind = kinds[c] & VCK_PLAIN_KIND_MASK;
                    if (kind != VCK_PLAIN_WORD && kind != VCK_PLAIN_CJK) break;
                    if (st->cjk && kind == VCK_PLAIN_CJK) {
                        copy_run(out, p + run, i - run, n - run);
                        out += i - run;
                        run = i + 1;
                        base -= 1;
                    } else {
                        chars += 1;
                    }
                }
                i += 1;
                /* A space taken between words is no space before removed text any more (both the
                   builder's appendPlainRun and the split loop clear spaceBeforeRemoved then). */
                st->took_space = 1;
                st->space_before_removed = 0;
                st->space_break = base + (int64_t)i;
                st->space_chars = chars;
                if (st->token_has_word) {
                    st->token_index += 1;
                    st->previous_word_lower = st->token_first_lower;
                }
                st->token_start = base + (int64_t)i;
                if (next < 0x80) {
                    b = next;
                    st->token_has_word = 1;
                    st->token_first_lower = (uint8_t)(b - 'a') < 26;
                    st->has_word = 1;
                    goto ascii_word;
                }
                st->token_has_word = 0;
                goto scalar;
            }
            c = b;
            len = 1;
        } else {
            len = decode_bmp(p, i, n, &c);
            if (!len) break;
            kind = kinds[c] & VCK_PLAIN_KIND_MASK;
            if (kind == VCK_PLAIN_NONE) break;
        }
    scalar:
        if (kind >= VCK_PLAIN_CLAUSE) {
            /* Punctuation that decides nothing; a clause mark is a break for the length limit, and
               a comma that may end the first segment goes the slow way. */
            if (kind == VCK_PLAIN_CLAUSE) {
                if ((c == 0x2C || c == 0xFF0C) && st->has_word && chars >= st->comma_from) break;
                st->clause_break = base + (int64_t)(i + len);
                st->clause_chars = chars + 1;
            }
            st->cjk = 0;
        } else {
            if (kind == VCK_PLAIN_CJK) {
                if (st->cjk) {
                    st->cjk_break = base + (int64_t)i;
                    st->cjk_chars = chars;
                }
                st->cjk = 1;
            } else {
                st->cjk = 0;
            }
            if (!st->token_has_word) {
                st->token_has_word = 1;
                st->token_first_lower = (kinds[c] & VCK_PLAIN_LOWER) != 0;
                st->has_word = 1;
            }
        }
        st->last = c;
        chars += 1;
        i += len;
        if (kind == VCK_PLAIN_CJK) {
            /* Further CJK scalars only move the break between two of them: a short loop. */
            while (i + 2 < n && chars < limit) {
                /* The shape of a three-byte sequence (lead 0xE0..0xEF, two continuation bytes)
                   tested at once; anything else ends the loop, and the scalar path sees it. */
                uint32_t b0 = p[i], b1 = p[i + 1], b2 = p[i + 2];
                if (((b0 & 0xF0) | (b1 & 0xC0) << 8 | (b2 & 0xC0) << 16) != (0xE0 | 0x80 << 8 | 0x80 << 16)) break;
                /* An overlong form or a surrogate cannot pass as CJK: the kind table gives CJK
                   only to scalars from U+0800 that are not surrogates (what decode_bmp accepts). */
                uint32_t c3 = (b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | (b2 & 0x3F);
                unsigned kind3 = kinds[c3] & VCK_PLAIN_KIND_MASK;
                if (kind3 != VCK_PLAIN_CJK) {
                    /* Another three-byte scalar (CJK punctuation, most often): the scalar path
                       takes it as decoded here, or the run ends where decode_bmp would end it. */
                    if (kind3 == VCK_PLAIN_NONE || c3 < 0x800 || c3 - 0xD800 < 0x800) goto done;
                    c = c3;
                    len = 3;
                    kind = kind3;
                    goto scalar;
                }
                st->cjk_break = base + (int64_t)i;
                st->cjk_chars = chars;
                st->last = c3;
                chars += 1;
                i += 3;
            }
        } else if (len == 2 && kind == VCK_PLAIN_WORD) {
            /* Further two-byte letters (Cyrillic, Greek, accented Latin) change nothing but the count. */
            while (i + 1 < n && chars < limit && (uint8_t)(p[i] - 0xC2) <= 0x1D && (p[i + 1] & 0xC0) == 0x80) {
                uint32_t c2 = ((uint32_t)(p[i] & 0x1F) << 6) | (p[i + 1] & 0x3F);
                unsigned kind2 = kinds[c2] & VCK_PLAIN_KIND_MASK;
                if (kind2 != VCK_PLAIN_WORD) {
                    /* Another two-byte scalar (well-formed, as tested above): as for CJK. */
                    if (kind2 == VCK_PLAIN_NONE) goto done;
                    c = c2;
                    len = 2;
                    kind = kind2;
                    goto scalar;
                }
                st->last = c2;
                chars += 1;
                i += 2;
            }
        }
    }
done:
    copy_run(out, p + run, i - run, n - run);
    out += i - run;
    st->seg_count += out - dst;
    st->chars = chars;
    return i;
}

#endif
