/* Inner-product kernels: one portable version and, on x86-64, AVX2+FMA and AVX-512 versions
 * compiled through target attributes (the rest of the library stays baseline x86-64), picked per
 * call by the level the caller detected once with vck_best_level. */
#include "VoiceCoreKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define VCK_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* Rows per tile of vck_dot_block: 64 rows of 384 floats are 96 KiB, well inside L2. */
enum { TILE_BYTES = 96 * 1024 };

static size_t tile_rows(size_t dim) {
    size_t t = TILE_BYTES / (dim * sizeof(float) + 1);
    return t < 4 ? 4 : t;
}

static void prefetch_row(const float *p, size_t dim) {
    const char *c = (const char *)p, *end = c + dim * sizeof(float);
    for (; c < end; c += 64) __builtin_prefetch(c, 0, 3);
}

/* ---- portable (SSE2 on x86-64, scalar elsewhere) --------------------------------------------- */

static float dot_portable(const float *a, const float *b, size_t n) {
    size_t i = 0;
#if defined(__SSE2__)
    __m128 s0 = _mm_setzero_ps(), s1 = _mm_setzero_ps(), s2 = _mm_setzero_ps(), s3 = _mm_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
        s2 = _mm_add_ps(s2, _mm_mul_ps(_mm_loadu_ps(a + i + 8), _mm_loadu_ps(b + i + 8)));
        s3 = _mm_add_ps(s3, _mm_mul_ps(_mm_loadu_ps(a + i + 12), _mm_loadu_ps(b + i + 12)));
    }
    __m128 s = _mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3));
    float lanes[4];
    _mm_storeu_ps(lanes, s);
    float sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#else
    float p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    for (; i + 4 <= n; i += 4) {
        p0 += a[i] * b[i]; p1 += a[i + 1] * b[i + 1]; p2 += a[i + 2] * b[i + 2]; p3 += a[i + 3] * b[i + 3];
    }
    float sum = (p0 + p1) + (p2 + p3);
#endif
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* ---- AVX2 + FMA ------------------------------------------------------------------------------ */
#ifdef VCK_X86
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* Two queries against four rows: eight accumulators, six loads per eight FMAs. */
AVX2 static void block_2x4_avx2(const float *q0, const float *q1, const float *r, size_t dim, float *o0, float *o1) {
    const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 x = _mm256_loadu_ps(q0 + i), y = _mm256_loadu_ps(q1 + i), v;
        v = _mm256_loadu_ps(r0 + i); a0 = _mm256_fmadd_ps(x, v, a0); b0 = _mm256_fmadd_ps(y, v, b0);
        v = _mm256_loadu_ps(r1 + i); a1 = _mm256_fmadd_ps(x, v, a1); b1 = _mm256_fmadd_ps(y, v, b1);
        v = _mm256_loadu_ps(r2 + i); a2 = _mm256_fmadd_ps(x, v, a2); b2 = _mm256_fmadd_ps(y, v, b2);
        v = _mm256_loadu_ps(r3 + i); a3 = _mm256_fmadd_ps(x, v, a3); b3 = _mm256_fmadd_ps(y, v, b3);
    }
    float t0[4] = {hsum256(a0), hsum256(a1), hsum256(a2), hsum256(a3)};
    float t1[4] = {hsum256(b0), hsum256(b1), hsum256(b2), hsum256(b3)};
    for (; i < dim; i++) {
        t0[0] += q0[i] * r0[i]; t0[1] += q0[i] * r1[i]; t0[2] += q0[i] * r2[i]; t0[3] += q0[i] * r3[i];
        t1[0] += q1[i] * r0[i]; t1[1] += q1[i] * r1[i]; t1[2] += q1[i] * r2[i]; t1[3] += q1[i] * r3[i];
    }
    for (int j = 0; j < 4; j++) { o0[j] = t0[j]; o1[j] = t1[j]; }
}

/* One query against four rows. */
AVX2 static void block_1x4_avx2(const float *q0, const float *r, size_t dim, float *o0) {
    const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 x = _mm256_loadu_ps(q0 + i);
        a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r0 + i), a0);
        a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r1 + i), a1);
        a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r2 + i), a2);
        a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r3 + i), a3);
    }
    float t[4] = {hsum256(a0), hsum256(a1), hsum256(a2), hsum256(a3)};
    for (; i < dim; i++) { t[0] += q0[i] * r0[i]; t[1] += q0[i] * r1[i]; t[2] += q0[i] * r2[i]; t[3] += q0[i] * r3[i]; }
    for (int j = 0; j < 4; j++) o0[j] = t[j];
}

/* ---- AVX-512 (masked loads cover any dimension) ----------------------------------------------- */
#define AVX512 __attribute__((target("avx512f")))

AVX512 static inline float dot_avx512(const float *a, const float *b, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Two queries against four rows, each pair summed exactly as dot_avx512 sums it (full 32-float
 * steps alternate between two accumulators, the rest goes to the first), so a batch and a single
 * query give bit-identical scores: sixteen accumulators, six loads per sixteen FMAs. */
AVX512 static void block_2x4_avx512(const float *q0, const float *q1, const float *r, size_t dim, float *o0, float *o1) {
    const float *r0 = r, *r1 = r + dim, *r2 = r + 2 * dim, *r3 = r + 3 * dim;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
    __m512 d0 = _mm512_setzero_ps(), d1 = _mm512_setzero_ps(), d2 = _mm512_setzero_ps(), d3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 x = _mm512_loadu_ps(q0 + i), y = _mm512_loadu_ps(q1 + i);
        __m512 xh = _mm512_loadu_ps(q0 + i + 16), yh = _mm512_loadu_ps(q1 + i + 16), v;
        v = _mm512_loadu_ps(r0 + i); a0 = _mm512_fmadd_ps(x, v, a0); b0 = _mm512_fmadd_ps(y, v, b0);
        v = _mm512_loadu_ps(r0 + i + 16); c0 = _mm512_fmadd_ps(xh, v, c0); d0 = _mm512_fmadd_ps(yh, v, d0);
        v = _mm512_loadu_ps(r1 + i); a1 = _mm512_fmadd_ps(x, v, a1); b1 = _mm512_fmadd_ps(y, v, b1);
        v = _mm512_loadu_ps(r1 + i + 16); c1 = _mm512_fmadd_ps(xh, v, c1); d1 = _mm512_fmadd_ps(yh, v, d1);
        v = _mm512_loadu_ps(r2 + i); a2 = _mm512_fmadd_ps(x, v, a2); b2 = _mm512_fmadd_ps(y, v, b2);
        v = _mm512_loadu_ps(r2 + i + 16); c2 = _mm512_fmadd_ps(xh, v, c2); d2 = _mm512_fmadd_ps(yh, v, d2);
        v = _mm512_loadu_ps(r3 + i); a3 = _mm512_fmadd_ps(x, v, a3); b3 = _mm512_fmadd_ps(y, v, b3);
        v = _mm512_loadu_ps(r3 + i + 16); c3 = _mm512_fmadd_ps(xh, v, c3); d3 = _mm512_fmadd_ps(yh, v, d3);
    }
    for (; i < dim; i += 16) {
        __mmask16 m = dim - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (dim - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, q0 + i), y = _mm512_maskz_loadu_ps(m, q1 + i), v;
        v = _mm512_maskz_loadu_ps(m, r0 + i); a0 = _mm512_fmadd_ps(x, v, a0); b0 = _mm512_fmadd_ps(y, v, b0);
        v = _mm512_maskz_loadu_ps(m, r1 + i); a1 = _mm512_fmadd_ps(x, v, a1); b1 = _mm512_fmadd_ps(y, v, b1);
        v = _mm512_maskz_loadu_ps(m, r2 + i); a2 = _mm512_fmadd_ps(x, v, a2); b2 = _mm512_fmadd_ps(y, v, b2);
        v = _mm512_maskz_loadu_ps(m, r3 + i); a3 = _mm512_fmadd_ps(x, v, a3); b3 = _mm512_fmadd_ps(y, v, b3);
    }
    o0[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, c0)); o0[1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, c1));
    o0[2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, c2)); o0[3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, c3));
    o1[0] = _mm512_reduce_add_ps(_mm512_add_ps(b0, d0)); o1[1] = _mm512_reduce_add_ps(_mm512_add_ps(b1, d1));
    o1[2] = _mm512_reduce_add_ps(_mm512_add_ps(b2, d2)); o1[3] = _mm512_reduce_add_ps(_mm512_add_ps(b3, d3));
}

/* One query against consecutive rows with the dot inlined: no call and level dispatch per row. */
AVX512 static void rows_avx512(const float *q, const float *rows, size_t count, size_t dim, float *out) {
    for (size_t r = 0; r < count; r++) out[r] = dot_avx512(q, rows + r * dim, dim);
}

static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif /* VCK_X86 */

int vck_best_level(void) {
#ifdef VCK_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return VCK_PORTABLE;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!(osxsave && avx && fma)) return VCK_PORTABLE;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return VCK_PORTABLE; /* the OS saves SSE and AVX state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return VCK_PORTABLE;
    if (!((b >> 5) & 1)) return VCK_PORTABLE; /* AVX2 */
    if (((b >> 16) & 1) && (xcr0 & 0xE6) == 0xE6) return VCK_AVX512; /* AVX-512F and opmask/ZMM state */
    return VCK_AVX2_FMA;
#else
    return VCK_PORTABLE;
#endif
}

float vck_dot(int level, const float *a, const float *b, size_t n) {
#ifdef VCK_X86
    if (level >= VCK_AVX512) return dot_avx512(a, b, n);
    if (level == VCK_AVX2_FMA) return dot_avx2(a, b, n);
#else
    (void)level;
#endif
    return dot_portable(a, b, n);
}

void vck_dot_block(int level, const float *queries, size_t nq, const float *rows, size_t count, size_t dim, float *out) {
    size_t tile = tile_rows(dim);
    for (size_t r0 = 0; r0 < count; r0 += tile) {
        size_t r1 = r0 + tile < count ? r0 + tile : count;
        size_t i = 0;
#ifdef VCK_X86
        if (level >= VCK_AVX2_FMA) {
            for (; i + 2 <= nq; i += 2) {
                const float *q0 = queries + i * dim, *q1 = q0 + dim;
                float *o0 = out + i * count, *o1 = o0 + count;
                size_t r = r0;
                for (; r + 4 <= r1; r += 4) {
                    if (level >= VCK_AVX512) block_2x4_avx512(q0, q1, rows + r * dim, dim, o0 + r, o1 + r);
                    else block_2x4_avx2(q0, q1, rows + r * dim, dim, o0 + r, o1 + r);
                }
                for (; r < r1; r++) {
                    o0[r] = vck_dot(level, q0, rows + r * dim, dim);
                    o1[r] = vck_dot(level, q1, rows + r * dim, dim);
                }
            }
            for (; i < nq; i++) {
                const float *q0 = queries + i * dim;
                float *o0 = out + i * count;
                size_t r = r0;
                /* One query streams the rows in order: on AVX-512 one row at a time (a single
                 * memory stream the prefetcher follows best), on AVX2 four at a time. */
                if (level >= VCK_AVX512) {
                    rows_avx512(q0, rows + r * dim, r1 - r, dim, o0 + r);
                    continue;
                }
                for (; r + 4 <= r1; r += 4) block_1x4_avx2(q0, rows + r * dim, dim, o0 + r);
                for (; r < r1; r++) o0[r] = vck_dot(level, q0, rows + r * dim, dim);
            }
        }
#endif
        for (; i < nq; i++)
            for (size_t r = r0; r < r1; r++) out[i * count + r] = dot_portable(queries + i * dim, rows + r * dim, dim);
    }
}

/* Graph neighbours are scattered over memory: the rows GATHER_AHEAD places ahead are requested
 * while the current one is multiplied, so several misses are in flight at once rather than one. */
enum { GATHER_AHEAD = 3 };

#ifdef VCK_X86
/* The AVX-512 gather with the dot product inlined (a call per row through vck_dot's dispatch
 * cost about as much as the tail of the row's arithmetic); same sums as dot_avx512. */
AVX512 static void gather_avx512(const float *q, const float *base, size_t dim, const int *ids, size_t n, float *out) {
    for (size_t j = 0; j < n && j < GATHER_AHEAD; j++) prefetch_row(base + (size_t)ids[j] * dim, dim);
    for (size_t j = 0; j < n; j++) {
        if (j + GATHER_AHEAD < n) prefetch_row(base + (size_t)ids[j + GATHER_AHEAD] * dim, dim);
        out[j] = dot_avx512(q, base + (size_t)ids[j] * dim, dim);
    }
}
#endif

void vck_dot_gather(int level, const float *q, const float *base, size_t dim, const int *ids, size_t n, float *out) {
#ifdef VCK_X86
    if (level >= VCK_AVX512) { gather_avx512(q, base, dim, ids, n, out); return; }
#endif
    for (size_t j = 0; j < n && j < GATHER_AHEAD; j++) prefetch_row(base + (size_t)ids[j] * dim, dim);
    for (size_t j = 0; j < n; j++) {
        if (j + GATHER_AHEAD < n) prefetch_row(base + (size_t)ids[j + GATHER_AHEAD] * dim, dim);
        out[j] = vck_dot(level, q, base + (size_t)ids[j] * dim, dim);
    }
}
