#include "playout.h"
#include "resample.h"
#include <stdlib.h>
#include <string.h>

int playout_init(playout *p, int sample_rate, int frame_ms, int prebuffer_frames, size_t max_frames,
                 int complexity, int bitrate) {
    memset(p, 0, sizeof *p);
    int err = downlink_encoder_init(&p->encoder, sample_rate, frame_ms, complexity, bitrate);
    if (err != 0) return err;
    p->prebuffer_frames = prebuffer_frames < 1 ? 1 : prebuffer_frames;
    p->frame_us = (int64_t)frame_ms * 1000;
    p->max_frames = max_frames;
    p->residual = calloc((size_t)p->encoder.frame_samples, sizeof(int16_t));
    /* The device holds at most prebuffer_frames unplayed frames; one more for its own lag. */
    p->sent_max = p->prebuffer_frames + 1;
    p->sent = calloc((size_t)p->sent_max, sizeof *p->sent);
    p->sent_end_us = calloc((size_t)p->sent_max, sizeof *p->sent_end_us);
    if (!p->residual || !p->sent || !p->sent_end_us) {
        free(p->residual);
        free(p->sent);
        free(p->sent_end_us);
        downlink_encoder_free(&p->encoder);
        return -1;
    }
    return 0;
}

/* Frames the queued PCM will make: whole frames, plus a padded one where an end marker waits. */
static void count_frames(playout *p) {
    size_t frame = (size_t)p->encoder.frame_samples;
    p->frames = p->rewound + (p->ends ? (p->samples + frame - 1) / frame : p->samples / frame);
}

static void append(playout *p, playout_item *item) {
    item->next = NULL;
    if (p->tail) p->tail->next = item; else p->head = item;
    p->tail = item;
    p->bytes += item->len;
}

static int append_marker(playout *p, playout_kind kind, int64_t turn, const char *text) {
    size_t len = text ? strlen(text) : 0;
    playout_item *item = malloc(sizeof *item + len + 1);
    if (!item) return -1;
    item->kind = kind;
    item->turn = turn;
    item->len = len;
    item->taken = 0;
    if (len) memcpy(item->data, text, len);
    item->data[len] = 0;
    append(p, item);
    return 0;
}

int playout_push(playout *p, int64_t turn, const int16_t *pcm, size_t n, int rate, const char *marker) {
    size_t m = rate == p->encoder.sample_rate ? n : resample_output_length(n, rate, p->encoder.sample_rate);
    size_t frame = (size_t)p->encoder.frame_samples;
    if (p->max_frames && (p->samples + m) / frame > p->max_frames) return -1;
    if (marker && append_marker(p, PLAYOUT_SENTENCE, turn, marker) != 0) return -1;
    if (m == 0) return 0;
    playout_item *item = malloc(sizeof *item + m * sizeof(int16_t));
    if (!item) return -1;
    item->kind = PLAYOUT_PCM;
    item->turn = turn;
    item->len = m * sizeof(int16_t);
    item->taken = 0;
    if (m == n) memcpy(item->data, pcm, item->len);
    else resample_linear(pcm, n, rate, (int16_t *)(void *)item->data, m);
    append(p, item);
    p->samples += m;
    count_frames(p);
    return 0;
}

int playout_end(playout *p, int64_t turn, const char *marker) {
    if (append_marker(p, PLAYOUT_END, turn, marker) != 0) return -1;
    p->ends++;
    count_frames(p);
    return 0;
}

static void free_items(playout *p) {
    playout_item *item = p->head;
    while (item) {
        playout_item *next = item->next;
        free(item);
        item = next;
    }
    p->head = p->tail = NULL;
}

static void forget_sent(playout *p) {
    for (int i = 0; i < p->sent_n; i++) free(p->sent[i]);
    p->sent_n = 0;
}

size_t playout_flush(playout *p) {
    size_t dropped = p->frames;
    free_items(p);
    forget_sent(p);
    p->frames = p->bytes = p->samples = p->ends = p->rewound = 0;
    p->residual_n = 0;
    downlink_encoder_reset(&p->encoder);
    return dropped;
}

static playout_item *pop(playout *p) {
    playout_item *item = p->head;
    p->head = item->next;
    if (!p->head) p->tail = NULL;
    p->bytes -= item->len;
    return item;
}

/* Encodes the residual (padded with silence when short) into a frame item. */
static playout_item *encode_residual(playout *p) {
    int frame = p->encoder.frame_samples;
    size_t had = (size_t)p->residual_n;
    if (p->residual_n < frame) memset(p->residual + p->residual_n, 0, (size_t)(frame - p->residual_n) * sizeof(int16_t));
    uint8_t packet[OPUS_MAX_PACKET];
    int n = downlink_encoder_encode(&p->encoder, p->residual, packet, sizeof packet);
    p->residual_n = 0;
    p->samples -= had;
    count_frames(p);
    if (n < 0) return NULL;
    playout_item *item = malloc(sizeof *item + (size_t)n);
    if (!item) return NULL;
    item->kind = PLAYOUT_FRAME;
    item->turn = p->residual_turn;
    item->len = (size_t)n;
    item->taken = 0;
    memcpy(item->data, packet, (size_t)n);
    p->frames_encoded++;
    return item;
}

/* Moves queued PCM into the residual until it holds a whole frame. Returns 1 when it does, or
 * when a marker (or another turn's PCM) ends the residual's audio first; 0 when more PCM must
 * arrive. */
static int fill_residual(playout *p) {
    size_t frame = (size_t)p->encoder.frame_samples;
    while (p->head && p->head->kind == PLAYOUT_PCM) {
        playout_item *item = p->head;
        if (p->residual_n > 0 && p->residual_turn != item->turn) {
            p->samples -= (size_t)p->residual_n;   /* never mix turns: the old turn's tail goes */
            p->residual_n = 0;
            count_frames(p);
        }
        p->residual_turn = item->turn;
        size_t have = item->len / sizeof(int16_t) - item->taken;
        size_t take = frame - (size_t)p->residual_n;
        if (take > have) take = have;
        memcpy(p->residual + p->residual_n, (const int16_t *)(const void *)item->data + item->taken, take * sizeof(int16_t));
        p->residual_n += (int)take;
        item->taken += take;
        if (item->taken * sizeof(int16_t) == item->len) free(pop(p));
        if ((size_t)p->residual_n == frame) return 1;
    }
    return 0;
}

/* A copy of the frame just sent, ending at play_clock (the oldest one goes when full). */
static void remember_sent(playout *p, const playout_item *frame) {
    playout_item *copy = malloc(sizeof *copy + frame->len);
    if (!copy) return;   /* a frame that cannot be rewound is only lost if the device drops it */
    memcpy(copy, frame, sizeof *copy + frame->len);
    copy->next = NULL;
    if (p->sent_n == p->sent_max) {
        free(p->sent[0]);
        memmove(p->sent, p->sent + 1, (size_t)(p->sent_n - 1) * sizeof *p->sent);
        memmove(p->sent_end_us, p->sent_end_us + 1, (size_t)(p->sent_n - 1) * sizeof *p->sent_end_us);
        p->sent_n--;
    }
    p->sent[p->sent_n] = copy;
    p->sent_end_us[p->sent_n] = p->play_clock_us;
    p->sent_n++;
}

/* A frame goes out at now_us: the device's play clock moves on by one frame. */
static playout_item *send_frame(playout *p, playout_item *frame, int64_t now_us) {
    p->play_clock_us = (p->play_clock_us > now_us ? p->play_clock_us : now_us) + p->frame_us;
    remember_sent(p, frame);
    return frame;
}

size_t playout_rewind(playout *p, int64_t now_us) {
    if (p->sent_n == 0) return 0;
    int64_t turn = p->sent[p->sent_n - 1]->turn;
    int first = p->sent_n;
    while (first > 0 && p->sent[first - 1]->turn == turn && p->sent_end_us[first - 1] > now_us - p->frame_us) first--;
    for (int i = 0; i < first; i++) free(p->sent[i]);
    for (int i = p->sent_n - 1; i >= first; i--) {   /* newest first onto the head: oldest ends first */
        playout_item *item = p->sent[i];
        item->next = p->head;
        p->head = item;
        if (!p->tail) p->tail = item;
        p->bytes += item->len;
    }
    size_t n = (size_t)(p->sent_n - first);
    p->sent_n = 0;
    p->rewound += n;
    count_frames(p);
    p->play_clock_us = now_us;   /* the device holds nothing now */
    return n;
}

playout_item *playout_next(playout *p, int64_t now_us, int64_t *wait_us) {
    *wait_us = 0;
    for (;;) {
        /* Frames queued again by a rewind: earlier audio than anything behind them. */
        if (p->head && p->head->kind == PLAYOUT_FRAME) {
            int64_t due = p->play_clock_us - (int64_t)(p->prebuffer_frames - 1) * p->frame_us;
            if (now_us < due) {
                *wait_us = due - now_us;
                return NULL;
            }
            playout_item *frame = pop(p);
            p->rewound--;
            count_frames(p);
            return send_frame(p, frame, now_us);
        }
        if (p->head && p->head->kind == PLAYOUT_PCM) fill_residual(p);
        playout_item *item = p->head;
        int frame_ready = (size_t)p->residual_n == (size_t)p->encoder.frame_samples;
        if (!frame_ready && item && item->kind == PLAYOUT_END && p->residual_n > 0) {
            if (p->residual_turn == item->turn) {
                frame_ready = 1;   /* the turn's last frame, padded */
            } else {
                p->samples -= (size_t)p->residual_n;
                p->residual_n = 0;
                count_frames(p);
            }
        }
        if (frame_ready) {
            int64_t due = p->play_clock_us - (int64_t)(p->prebuffer_frames - 1) * p->frame_us;
            if (now_us < due) {
                *wait_us = due - now_us;
                return NULL;
            }
            playout_item *frame = encode_residual(p);
            if (!frame) continue;   /* an encoder error loses the frame, not the queue */
            return send_frame(p, frame, now_us);
        }
        /* Nothing queued, or a partial frame waiting for more PCM or its turn's end. */
        if (!item || item->kind == PLAYOUT_PCM) return NULL;
        pop(p);
        if (item->kind == PLAYOUT_END) {
            p->ends--;
            count_frames(p);
        }
        return item;
    }
}

int playout_pending(const playout *p) { return p->head != NULL || p->residual_n > 0; }

void playout_free(playout *p) {
    playout_flush(p);
    free(p->sent);
    free(p->sent_end_us);
    p->sent = NULL;
    p->sent_end_us = NULL;
    downlink_encoder_free(&p->encoder);
    free(p->residual);
    p->residual = NULL;
}
