/* JSON-lines logging: the daemon's own events and the Coordinator's event log, one object per
 * line, to stdout or a file. */
#ifndef VOICECORED_LOG_H
#define VOICECORED_LOG_H
#include <jansson.h>
#include <stdio.h>

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

typedef struct logger {
    FILE *out;
    int level;
    int owns_file;
} logger;

int logger_open(logger *l, const char *path, const char *level);
void logger_close(logger *l);
/* Writes {"ts_us":..,"level":..,"source":"voicecored","event":event, ...fields}; steals fields
 * (may be NULL). */
void log_event(logger *l, int level, const char *event, json_t *fields);
/* Writes a line the Coordinator produced (already JSON, no newline). */
void log_line(logger *l, const char *json, size_t len);

#endif
