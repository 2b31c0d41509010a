#include "journal.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define BUFFER_BYTES (1u << 20)

struct journal {
    char *dir;
    uint64_t max_bytes;
    int keep;
    int digest_every;
    json_t *header_fields;
    char run[64];
    int segment;
    int fd;
    char path[PATH_MAX];
    uint64_t file_bytes;        /* written and buffered */
    uint8_t *buf;
    size_t buf_len;
    uint64_t events;
    uint64_t since_digest;
    int stopped;
    char error[PATH_MAX + 128];
};

uint32_t journal_crc32(uint32_t crc, const void *data, size_t len) {
    const Bytef *p = data;
    while (len > 0) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void stop(journal *j, const char *why) {
    if (j->stopped) return;
    j->stopped = 1;
    snprintf(j->error, sizeof j->error, "%s", why);
}

static int write_all(journal *j, struct iovec *iov, int count) {
    while (count > 0) {
        ssize_t n = writev(j->fd, iov, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            char why[sizeof j->error];
            snprintf(why, sizeof why, "write %s: %s", j->path, strerror(errno));
            stop(j, why);
            return -1;
        }
        while (count > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

int journal_flush(journal *j) {
    if (!j || j->fd < 0 || j->buf_len == 0) return 0;
    struct iovec iov = {j->buf, j->buf_len};
    j->buf_len = 0;
    return write_all(j, &iov, 1);
}

static int append(journal *j, char type, int64_t time_us, const void *json, size_t json_len, const void *data, size_t data_len) {
    if (j->fd < 0) return -1;
    if (json_len > UINT32_MAX || data_len > UINT32_MAX) {
        /* Beyond the daemon's message limits; a record left out would make the run unreplayable. */
        stop(j, "an event larger than 4 GiB cannot be recorded");
        return -1;
    }
    uint8_t head[JOURNAL_RECORD_HEADER] = {0};
    head[0] = (uint8_t)type;
    put32(head + 4, (uint32_t)json_len);
    put32(head + 8, (uint32_t)data_len);
    put64(head + 12, (uint64_t)time_us);
    uint32_t crc = journal_crc32(0, head, 20);
    if (json_len) crc = journal_crc32(crc, json, json_len);
    if (data_len) crc = journal_crc32(crc, data, data_len);
    put32(head + 20, crc);
    size_t total = sizeof head + json_len + data_len;
    j->file_bytes += total;
    if (j->buf_len + total > BUFFER_BYTES && journal_flush(j) < 0) return -1;
    if (total > BUFFER_BYTES) {
        struct iovec iov[3] = {{head, sizeof head}, {(void *)json, json_len}, {(void *)data, data_len}};
        return write_all(j, iov, 3);
    }
    memcpy(j->buf + j->buf_len, head, sizeof head);
    if (json_len) memcpy(j->buf + j->buf_len + sizeof head, json, json_len);
    if (data_len) memcpy(j->buf + j->buf_len + sizeof head + json_len, data, data_len);
    j->buf_len += total;
    return 0;
}

static int append_json(journal *j, char type, int64_t time_us, json_t *object) {
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    if (!text) return -1;
    int rc = append(j, type, time_us, text, strlen(text), NULL, 0);
    free(text);
    return rc;
}

static json_t *digest_fields(journal *j, uint64_t digest, uint64_t entries) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest);
    return json_pack("{s:s,s:I,s:I}", "digest", hex, "entries", (json_int_t)entries, "events", (json_int_t)j->events);
}

static int is_journal_file(const char *name) {
    size_t n = strlen(name);
    return n > 12 && !strncmp(name, "journal-", 8) && !strcmp(name + n - 4, ".vcj");
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The journal files in dir, sorted by name (= by run start, then segment). */
static char **list_files(journal *j, size_t *count) {
    *count = 0;
    DIR *d = opendir(j->dir);
    if (!d) return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_journal_file(e->d_name)) continue;
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) break;
            names = grown;
        }
        names[(*count)++] = strdup(e->d_name);
    }
    closedir(d);
    if (names) qsort(names, *count, sizeof *names, by_name);
    return names;
}

static int of_this_run(journal *j, const char *name) {
    size_t n = strlen(j->run);
    return !strncmp(name + 8, j->run, n) && name[8 + n] == '-';
}

static int files_of_run(journal *j) {
    size_t count;
    char **names = list_files(j, &count);
    int mine = 0;
    for (size_t i = 0; i < count; i++) {
        mine += of_this_run(j, names[i]);
        free(names[i]);
    }
    free(names);
    return mine;
}

/* Deletes the oldest files of earlier runs until dir holds at most `keep`. */
static void prune(journal *j) {
    size_t count;
    char **names = list_files(j, &count);
    size_t excess = count > (size_t)j->keep ? count - (size_t)j->keep : 0;
    for (size_t i = 0; i < count; i++) {
        if (excess > 0 && !of_this_run(j, names[i])) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", j->dir, names[i]);
            if (unlink(path) == 0) excess--;
        }
        free(names[i]);
    }
    free(names);
}

static int open_segment(journal *j, int64_t now_us, uint64_t digest, uint64_t entries) {
    snprintf(j->path, sizeof j->path, "%s/journal-%s-%04d.vcj", j->dir, j->run, j->segment);
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        char why[sizeof j->error];
        snprintf(why, sizeof why, "open %s: %s", j->path, strerror(errno));
        stop(j, why);
        return -1;
    }
    j->file_bytes = JOURNAL_MAGIC_LEN;
    memcpy(j->buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
    j->buf_len = JOURNAL_MAGIC_LEN;
    json_t *h = json_deep_copy(j->header_fields);
    json_t *state = digest_fields(j, digest, entries);
    json_object_update(h, state);
    json_decref(state);
    json_object_set_new(h, "journal", json_integer(2));
    json_object_set_new(h, "run", json_string(j->run));
    json_object_set_new(h, "segment", json_integer(j->segment));
    /* The header goes to disk at once: a run killed before its first event still replays. */
    if (append_json(j, 'H', now_us, h) < 0 || journal_flush(j) < 0) return -1;
    prune(j);
    return 0;
}

journal *journal_open(const journal_options *o, int64_t now_us, char *error, size_t error_len) {
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(error, error_len, "journal directory %s: %s", o->dir, strerror(errno));
        return NULL;
    }
    json_t *fields = o->header_json && *o->header_json ? json_loads(o->header_json, 0, NULL) : json_object();
    if (!json_is_object(fields)) {
        json_decref(fields);
        snprintf(error, error_len, "journal header fields are not a JSON object");
        return NULL;
    }
    journal *j = calloc(1, sizeof *j);
    if (j) j->buf = malloc(BUFFER_BYTES);
    if (!j || !j->buf) {
        if (j) free(j);
        json_decref(fields);
        snprintf(error, error_len, "out of memory");
        return NULL;
    }
    j->dir = strdup(o->dir);
    j->max_bytes = o->max_bytes ? o->max_bytes : 1;
    j->keep = o->keep > 0 ? o->keep : 1;
    j->digest_every = o->digest_every > 0 ? o->digest_every : 1;
    j->header_fields = fields;
    j->fd = -1;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    snprintf(j->run, sizeof j->run, "%s.%06ldZ-%ld", stamp, (long)tv.tv_usec, (long)getpid());
    if (open_segment(j, now_us, 0xcbf29ce484222325ull, 0) < 0) {
        snprintf(error, error_len, "%s", j->error);
        journal_close(j, now_us, 0, 0);
        return NULL;
    }
    return j;
}

int journal_record_event(journal *j, int64_t now_us, const void *event, size_t event_len, const void *data, size_t data_len) {
    if (j->stopped || append(j, 'E', now_us, event, event_len, data, data_len) < 0) return -1;
    j->events++;
    j->since_digest++;
    return j->since_digest >= (uint64_t)j->digest_every || j->file_bytes >= j->max_bytes;
}

size_t journal_event_size(const vc_event *e) {
    return JOURNAL_EVENT_HEAD + e->body_len + e->device_id_len + e->client_id_len + e->path_len + e->token_len;
}

void journal_encode_event(const vc_event *e, uint8_t *out) {
    put32(out, (uint32_t)e->kind);
    put32(out + 4, e->flags);
    put64(out + 8, e->session);
    put64(out + 16, e->worker);
    put64(out + 24, e->job);
    put64(out + 32, e->turn);
    put64(out + 40, e->timer);
    put32(out + 48, (uint32_t)e->protocol_version);
    put32(out + 52, (uint32_t)e->body_len);
    out[56] = (uint8_t)e->device_id_len;
    out[57] = (uint8_t)(e->device_id_len >> 8);
    out[58] = (uint8_t)e->client_id_len;
    out[59] = (uint8_t)(e->client_id_len >> 8);
    put64(out + 60, e->request);
    put32(out + 68, (uint32_t)e->path_len);
    put32(out + 72, (uint32_t)e->token_len);
    uint8_t *p = out + JOURNAL_EVENT_HEAD;
    if (e->body_len) memcpy(p, e->body, e->body_len);
    p += e->body_len;
    if (e->device_id_len) memcpy(p, e->device_id, e->device_id_len);
    p += e->device_id_len;
    if (e->client_id_len) memcpy(p, e->client_id, e->client_id_len);
    p += e->client_id_len;
    if (e->path_len) memcpy(p, e->path, e->path_len);
    p += e->path_len;
    if (e->token_len) memcpy(p, e->token, e->token_len);
}

int journal_decode_event(const void *bytes, size_t len, const void *data, size_t data_len, vc_event *out) {
    const uint8_t *b = bytes;
    if (len < JOURNAL_EVENT_HEAD) return -1;
    memset(out, 0, sizeof *out);
    out->kind = (int32_t)get32(b);
    out->flags = get32(b + 4);
    out->session = get64(b + 8);
    out->worker = get64(b + 16);
    out->job = get64(b + 24);
    out->turn = get64(b + 32);
    out->timer = get64(b + 40);
    out->protocol_version = (int32_t)get32(b + 48);
    size_t body = get32(b + 52), device = (size_t)b[56] | (size_t)b[57] << 8, client = (size_t)b[58] | (size_t)b[59] << 8;
    out->request = get64(b + 60);
    size_t path = get32(b + 68), token = get32(b + 72);
    if (len != JOURNAL_EVENT_HEAD + body + device + client + path + token) return -1;
    const char *p = (const char *)b + JOURNAL_EVENT_HEAD;
    out->body = body ? p : NULL;
    out->body_len = body;
    out->device_id = device ? p + body : NULL;
    out->device_id_len = device;
    out->client_id = client ? p + body + device : NULL;
    out->client_id_len = client;
    out->path = path ? p + body + device + client : NULL;
    out->path_len = path;
    out->token = token ? p + body + device + client + path : NULL;
    out->token_len = token;
    out->data = data_len ? data : NULL;
    out->data_len = data_len;
    return 0;
}

int journal_event(journal *j, int64_t now_us, const vc_event *e) {
    if (j->stopped) return -1;
    if (e->device_id_len > 0xffff || e->client_id_len > 0xffff || e->body_len > 0xffffffffu || e->path_len > 0xffffffffu || e->token_len > 0xffffffffu) {
        stop(j, "an event too large to record");
        return -1;
    }
    uint8_t small[1024];
    size_t n = journal_event_size(e);
    uint8_t *buf = n <= sizeof small ? small : malloc(n);
    if (!buf) {
        stop(j, "out of memory");
        return -1;
    }
    journal_encode_event(e, buf);
    int rc = journal_record_event(j, now_us, buf, n, e->data, e->data_len);
    if (buf != small) free(buf);
    return rc;
}

static void end_segment(journal *j, int64_t now_us, const char *reason, uint64_t digest, uint64_t entries) {
    json_t *z = digest_fields(j, digest, entries);
    json_object_set_new(z, "reason", json_string(reason));
    append_json(j, 'Z', now_us, z);
    journal_flush(j);
    close(j->fd);
    j->fd = -1;
}

void journal_digest(journal *j, int64_t now_us, uint64_t digest, uint64_t entries) {
    if (j->stopped) return;
    append_json(j, 'D', now_us, digest_fields(j, digest, entries));
    j->since_digest = 0;
    if (j->file_bytes < j->max_bytes || j->stopped) return;
    if (files_of_run(j) >= j->keep) {
        end_segment(j, now_us, "full", digest, entries);
        char why[sizeof j->error];
        snprintf(why, sizeof why, "this run's journal fills %d files of %llu MB (journal_keep, journal_max_mb): "
                 "recording stopped, its beginning kept for replay", j->keep, (unsigned long long)(j->max_bytes >> 20));
        stop(j, why);
        return;
    }
    end_segment(j, now_us, "rotated", digest, entries);
    j->segment++;
    open_segment(j, now_us, digest, entries);
}

void journal_close(journal *j, int64_t now_us, uint64_t digest, uint64_t entries) {
    if (!j) return;
    if (!j->stopped && j->fd >= 0) {
        if (j->since_digest) append_json(j, 'D', now_us, digest_fields(j, digest, entries));
        end_segment(j, now_us, "closed", digest, entries);
    } else if (j->fd >= 0) {
        close(j->fd);
    }
    json_decref(j->header_fields);
    free(j->dir);
    free(j->buf);
    free(j);
}

const char *journal_path(const journal *j) { return j->fd >= 0 ? j->path : ""; }
uint64_t journal_events(const journal *j) { return j->events; }
const char *journal_error(const journal *j) { return j->stopped ? j->error : NULL; }

int journal_parse(const uint8_t *buf, size_t len, size_t *offset, journal_record *out) {
    size_t at = *offset;
    if (at == len) return JOURNAL_READ_END;
    if (len - at < JOURNAL_RECORD_HEADER) return JOURNAL_READ_TRUNCATED;
    const uint8_t *h = buf + at;
    char type = (char)h[0];
    if ((type != 'H' && type != 'E' && type != 'D' && type != 'Z') || h[1] || h[2] || h[3]) return JOURNAL_READ_CORRUPT;
    uint64_t json_len = get32(h + 4), data_len = get32(h + 8);
    if (len - at - JOURNAL_RECORD_HEADER < json_len + data_len) return JOURNAL_READ_TRUNCATED;
    const uint8_t *json = h + JOURNAL_RECORD_HEADER, *data = json + json_len;
    uint32_t crc = journal_crc32(0, h, 20);
    crc = journal_crc32(crc, json, (size_t)json_len);
    crc = journal_crc32(crc, data, (size_t)data_len);
    if (crc != get32(h + 20)) return JOURNAL_READ_CORRUPT;
    out->type = type;
    out->time_us = (int64_t)get64(h + 12);
    out->json = (const char *)json;
    out->json_len = (size_t)json_len;
    out->data = data_len ? data : NULL;
    out->data_len = (size_t)data_len;
    *offset = at + JOURNAL_RECORD_HEADER + (size_t)(json_len + data_len);
    return JOURNAL_READ_RECORD;
}

int journal_load(const char *path, journal_file *out, char *error, size_t error_len) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(error, error_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->buf = size > 0 ? malloc((size_t)size) : NULL;
    if (!out->buf || fread(out->buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        journal_file_free(out);
        snprintf(error, error_len, "%s: cannot read it", path);
        return -1;
    }
    fclose(f);
    out->len = (size_t)size;
    size_t at = JOURNAL_MAGIC_LEN, cap = 0;
    journal_record r;
    while (out->len >= JOURNAL_MAGIC_LEN && journal_parse(out->buf, out->len, &at, &r) == JOURNAL_READ_RECORD) {
        if (r.type == 'H' && !out->config) {
            json_t *h = json_loadb(r.json, r.json_len, 0, NULL);
            json_t *config = json_object_get(h, "config");
            out->config = config ? json_dumps(config, JSON_COMPACT) : NULL;
            json_decref(h);
        }
        if (r.type == 'E') {
            if (out->count == cap) {
                cap = cap ? cap * 2 : 1024;
                journal_record *grown = realloc(out->events, cap * sizeof *grown);
                if (!grown) break;
                out->events = grown;
            }
            out->events[out->count++] = r;
            out->payload_bytes += r.json_len + r.data_len;
        }
        if (r.type == 'D' || r.type == 'Z') {
            json_t *d = json_loadb(r.json, r.json_len, 0, NULL);
            const char *hex = json_string_value(json_object_get(d, "digest"));
            if (hex) out->digest = strtoull(hex, NULL, 16);
            json_decref(d);
        }
    }
    if (!out->count) {
        journal_file_free(out);
        snprintf(error, error_len, "no events in %s", path);
        return -1;
    }
    return 0;
}

void journal_file_free(journal_file *f) {
    free(f->buf);
    free(f->events);
    free(f->config);
    memset(f, 0, sizeof *f);
}
