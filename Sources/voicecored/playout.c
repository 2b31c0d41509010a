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
    if (!p->residual) {
        downlink_encoder_free(&p->encoder);
        return -1;
    }
    return 0;
}

static void append(playout *p, playout_item *item) {
    item->next = NULL;
    if (p->tail) p->tail->next = item; else p->head = item;
    p->tail = item;
    if (item->kind == PLAYOUT_FRAME) p->frames++;
    p->bytes += item->len;
}

static int append_marker(playout *p, playout_kind kind, int64_t turn, const char *text) {
    size_t len = text ? strlen(text) : 0;
    playout_item *item = malloc(sizeof *item + len + 1);
    if (!item) return -1;
    item->kind = kind;
    item->turn = turn;
    item->len = len;
    if (len) memcpy(item->data, text, len);
    item->data[len] = 0;
    append(p, item);
    return 0;
}

static int encode_residual(playout *p, int64_t turn) {
    uint8_t packet[OPUS_MAX_PACKET];
    int n = downlink_encoder_encode(&p->encoder, p->residual, packet, sizeof packet);
    p->residual_n = 0;
    if (n < 0) return -1;
    playout_item *item = malloc(sizeof *item + (size_t)n);
    if (!item) return -1;
    item->kind = PLAYOUT_FRAME;
    item->turn = turn;
    item->len = (size_t)n;
    memcpy(item->data, packet, (size_t)n);
    append(p, item);
    p->frames_encoded++;
    return 0;
}

int playout_push(playout *p, int64_t turn, const int16_t *pcm, size_t n, int rate, const char *sentence) {
    int16_t *converted = NULL;
    if (rate != p->encoder.sample_rate) {
        size_t m = resample_output_length(n, rate, p->encoder.sample_rate);
        converted = malloc((m ? m : 1) * sizeof(int16_t));
        if (!converted) return -1;
        resample_linear(pcm, n, rate, converted, m);
        pcm = converted;
        n = m;
    }
    size_t frame = (size_t)p->encoder.frame_samples;
    size_t frames_after = p->frames + (p->residual_n + n) / frame;
    if (p->max_frames && frames_after > p->max_frames) {
        free(converted);
        return -1;
    }
    if (p->residual_n > 0 && p->residual_turn != turn) p->residual_n = 0;  /* never mix turns */
    p->residual_turn = turn;
    int rc = 0;
    if (sentence && append_marker(p, PLAYOUT_SENTENCE, turn, sentence) != 0) rc = -1;
    size_t i = 0;
    while (rc == 0 && i < n) {
        size_t take = frame - (size_t)p->residual_n;
        if (take > n - i) take = n - i;
        memcpy(p->residual + p->residual_n, pcm + i, take * sizeof(int16_t));
        p->residual_n += (int)take;
        i += take;
        if ((size_t)p->residual_n == frame && encode_residual(p, turn) != 0) rc = -1;
    }
    free(converted);
    return rc;
}

int playout_end(playout *p, int64_t turn) {
    if (p->residual_n > 0 && p->residual_turn == turn) {
        memset(p->residual + p->residual_n, 0, ((size_t)p->encoder.frame_samples - (size_t)p->residual_n) * sizeof(int16_t));
        if (encode_residual(p, turn) != 0) return -1;
    }
    p->residual_n = 0;
    return append_marker(p, PLAYOUT_END, turn, NULL);
}

size_t playout_flush(playout *p) {
    size_t dropped = p->frames;
    playout_item *item = p->head;
    while (item) {
        playout_item *next = item->next;
        free(item);
        item = next;
    }
    p->head = p->tail = NULL;
    p->frames = 0;
    p->bytes = 0;
    p->residual_n = 0;
    downlink_encoder_reset(&p->encoder);
    return dropped;
}

playout_item *playout_next(playout *p, int64_t now_us, int64_t *wait_us) {
    *wait_us = 0;
    playout_item *item = p->head;
    if (!item) return NULL;
    if (item->kind == PLAYOUT_FRAME) {
        int64_t due = p->play_clock_us - (int64_t)(p->prebuffer_frames - 1) * p->frame_us;
        if (now_us < due) {
            *wait_us = due - now_us;
            return NULL;
        }
        p->play_clock_us = (p->play_clock_us > now_us ? p->play_clock_us : now_us) + p->frame_us;
        p->frames--;
    }
    p->head = item->next;
    if (!p->head) p->tail = NULL;
    p->bytes -= item->len;
    return item;
}

void playout_free(playout *p) {
    playout_flush(p);
    downlink_encoder_free(&p->encoder);
    free(p->residual);
    p->residual = NULL;
}
