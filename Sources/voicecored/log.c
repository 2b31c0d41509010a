#include "log.h"
#include <string.h>
#include <sys/time.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int logger_open(logger *l, const char *path, const char *level) {
    l->level = LOG_INFO;
    for (int i = 0; i < 4; i++)
        if (strcmp(level, level_names[i]) == 0) l->level = i;
    l->owns_file = 0;
    l->out = stdout;
    if (path && *path) {
        l->out = fopen(path, "a");
        if (!l->out) return -1;
        l->owns_file = 1;
    }
    setvbuf(l->out, NULL, _IOLBF, 0);
    return 0;
}

void logger_close(logger *l) {
    if (l->owns_file && l->out) fclose(l->out);
    l->out = NULL;
}

void log_event(logger *l, int level, const char *event, json_t *fields) {
    if (level < l->level || !l->out) {
        json_decref(fields);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    json_t *line = json_object();
    json_object_set_new(line, "ts_us", json_integer((json_int_t)tv.tv_sec * 1000000 + tv.tv_usec));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "source", json_string("voicecored"));
    json_object_set_new(line, "event", json_string(event));
    if (fields) json_object_update(line, fields);
    json_decref(fields);
    char *text = json_dumps(line, JSON_COMPACT);
    if (text) {
        fputs(text, l->out);
        fputc('\n', l->out);
        free(text);
    }
    json_decref(line);
}

void log_line(logger *l, const char *json, size_t len) {
    if (!l->out) return;
    fwrite(json, 1, len, l->out);
    fputc('\n', l->out);
}
