#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OPT_STRING, OPT_INT, OPT_JSON } option_type;

typedef struct option {
    const char *name;            /* file key; flag --name with '_' as '-'; env VOICECORED_NAME */
    option_type type;
    size_t offset;
    const char *default_value;
    int min, max;                /* OPT_INT bounds */
    const char *help;
} option;

#define STR(field, def, help) {#field, OPT_STRING, offsetof(config, field), def, 0, 0, help}
#define INT(field, def, lo, hi, help) {#field, OPT_INT, offsetof(config, field), #def, lo, hi, help}

static const option options[] = {
    STR(host, "0.0.0.0", "address to listen on"),
    INT(port, 8000, 0, 65535, "TCP port for HTTP and WebSocket (0: any free port; the log's `listening` line says which)"),
    STR(public_ws_url, "", "WebSocket URL handed to devices by OTA (empty: ws://<request Host>/xiaozhi/v1/)"),
    STR(device_tokens, "", "comma-separated device tokens; empty = DEV MODE: devices connect without a token"),
    STR(ota_token, "", "token OTA hands to devices (empty: the first device token)"),
    STR(worker_token, "", "bearer token workers must present on /worker (required)"),
    STR(admin_token, "", "bearer token operators present on /api/v1/ (docs/admin-api.md); empty: the admin API is disabled"),
    STR(tls_cert, "", "PEM certificate file; with tls_key, serves https/wss"),
    STR(tls_key, "", "PEM private key file"),
    STR(web_root, "web", "directory served at / (the browser test page)"),
    STR(firmware_version, "0.0.0", "firmware version OTA announces (devices upgrade when it is newer)"),
    STR(firmware_url, "", "firmware image URL OTA announces"),
    INT(hello_timeout_ms, 0, 0, 600000, "the Coordinator's hello_timeout_ms: close a device that sends no hello within this time (0: the Coordinator's own, 10000; a hello_timeout_ms in --coordinator wins)"),
    INT(drain_timeout_ms, 5000, 0, 600000, "on SIGTERM, how long queued audio may still play out before connections are closed"),
    INT(device_max_message_bytes, 65536, 1024, 16777216, "largest WebSocket message a device may send (larger: close 1009)"),
    INT(worker_max_message_bytes, 1048576, 1024, 67108864, "largest WebSocket message a worker may send (larger: close 1009)"),
    INT(send_queue_bytes, 1048576, 4096, 268435456, "per-device bound on unsent bytes; a device that falls further behind is closed (1008)"),
    INT(worker_send_queue_bytes, 33554432, 4096, 1073741824, "per-worker bound on unsent bytes (one worker carries many sessions' audio); a worker that falls further behind is closed (1008)"),
    INT(max_devices, 20000, 1, 1000000, "device connections held at once (more: HTTP 503)"),
    INT(max_workers, 1024, 1, 100000, "worker connections held at once (more: HTTP 503)"),
    INT(header_timeout_ms, 5000, 100, 600000, "close a connection that has not completed its HTTP request or WebSocket upgrade within this time"),
    INT(max_pending_connections, 4096, 1, 1000000, "connections still sending their request, at once; beyond: the oldest idle one held over a second is closed, else the new one"),
    INT(max_pending_per_address, 64, 1, 1000000, "the same per client address, applied once half of max_pending_connections is taken"),
    INT(max_connections_per_address, 0, 0, 1000000, "connections of any kind from one client address (more: closed at accept); 0: no limit"),
    INT(ping_interval_s, 15, 0, 3600, "WebSocket ping after this many seconds without a pong (devices and workers); 0: no pings"),
    INT(ping_timeout_s, 15, 1, 3600, "close a WebSocket that has not answered a ping within this many seconds (its session ends)"),
    INT(downlink_sample_rate, 24000, 8000, 48000, "sample rate of the Opus sent to devices (8000/12000/16000/24000/48000); handed to the Coordinator, whose hello announces it"),
    INT(downlink_frame_ms, 60, 10, 60, "duration of each downlink Opus frame (10/20/40/60); handed to the Coordinator, whose hello announces it"),
    INT(prebuffer_frames, 3, 1, 50, "frames a device may hold ahead of real time (bounds how late an abort is heard)"),
    INT(max_queued_audio_ms, 600000, 1000, 3600000, "audio one session may have queued for playout"),
    INT(uplink_burst_ms, 5000, 0, 600000, "uplink audio a device may send ahead of real time (buffered pre-roll, catch-up); 0: no limit"),
    INT(uplink_rate_percent, 150, 100, 10000, "uplink audio rate allowed beyond the burst, percent of real time; faster frames are dropped with an error"),
    INT(opus_complexity, 5, 0, 10, "Opus encoder complexity"),
    INT(opus_bitrate, 0, 0, 512000, "Opus encoder bitrate in bit/s (0: libopus default)"),
    STR(log_level, "info", "debug, info, warn or error"),
    STR(log_file, "", "append JSON-lines logs to this file (empty: stdout)"),
    STR(journal, "", "directory to record every event handed to the Coordinator, for `voicecore replay` (empty: no journal; docs/journal.md)"),
    INT(journal_max_mb, 64, 1, 1048576, "size at which a journal file rolls over to the next"),
    INT(journal_keep, 8, 1, 100000, "journal files kept in the directory (the oldest runs' go first; a run that alone fills them stops recording)"),
    INT(journal_digest_every, 64, 1, 1000000, "events between the event-log digests the journal records (replay checks each)"),
    {"coordinator", OPT_JSON, offsetof(config, coordinator), "{}", 0, 0,
     "JSON object handed to the Coordinator: timeouts, fallback texts, ... (see docs/coordinator.md)"},
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

static char **string_field(config *cfg, const option *o) { return (char **)((char *)cfg + o->offset); }
static int *int_field(config *cfg, const option *o) { return (int *)((char *)cfg + o->offset); }

static int set_option(config *cfg, const option *o, const char *value, const char *source, char *error, size_t error_len) {
    if (o->type == OPT_INT) {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || v < o->min || v > o->max) {
            snprintf(error, error_len, "%s: %s must be an integer in %d..%d, got \"%s\"", source, o->name, o->min, o->max, value);
            return -1;
        }
        *int_field(cfg, o) = (int)v;
        return 0;
    }
    if (o->type == OPT_JSON) {
        json_error_t jerr;
        json_t *j = json_loads(value, 0, &jerr);
        if (!json_is_object(j)) {
            json_decref(j);
            snprintf(error, error_len, "%s: %s must be a JSON object", source, o->name);
            return -1;
        }
        json_decref(j);
    }
    char **field = string_field(cfg, o);
    char *copy = strdup(value);
    if (!copy) {
        snprintf(error, error_len, "out of memory");
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

static const option *find_option(const char *name, size_t len) {
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *n = options[i].name;
        if (strlen(n) != len) continue;
        size_t k = 0;
        for (; k < len; k++) {
            char c = name[k] == '-' ? '_' : name[k];
            if (c != n[k]) break;
        }
        if (k == len) return &options[i];
    }
    return NULL;
}

static int load_file(config *cfg, const char *path, char *error, size_t error_len) {
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(error, error_len, "config file %s: %s (line %d)", path, jerr.text, jerr.line);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(error, error_len, "config file %s: the top level must be a JSON object", path);
        return -1;
    }
    const char *key;
    json_t *value;
    int rc = 0;
    json_object_foreach(root, key, value) {
        const option *o = find_option(key, strlen(key));
        if (!o || strchr(key, '-')) {
            snprintf(error, error_len, "config file %s: unknown key \"%s\"", path, key);
            rc = -1;
            break;
        }
        char buf[32];
        char *dumped = NULL;
        const char *text = NULL;
        if (o->type == OPT_INT && json_is_integer(value)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(value));
            text = buf;
        } else if (o->type == OPT_STRING && json_is_string(value)) {
            text = json_string_value(value);
        } else if (o->type == OPT_STRING && json_is_array(value)) {
            /* device_tokens may be a list in the file */
            size_t i;
            json_t *item;
            size_t cap = 1;
            json_array_foreach(value, i, item) cap += json_string_length(item) + 1;
            dumped = calloc(cap, 1);
            json_array_foreach(value, i, item) {
                if (!json_is_string(item)) continue;
                if (i) strcat(dumped, ",");
                strcat(dumped, json_string_value(item));
            }
            text = dumped;
        } else if (o->type == OPT_JSON && json_is_object(value)) {
            dumped = json_dumps(value, JSON_COMPACT);
            text = dumped;
        } else {
            snprintf(error, error_len, "config file %s: \"%s\" has the wrong type", path, key);
            rc = -1;
            break;
        }
        rc = set_option(cfg, o, text, path, error, error_len);
        free(dumped);
        if (rc) break;
    }
    json_decref(root);
    return rc;
}

static int split_tokens(config *cfg, char *error, size_t error_len) {
    cfg->device_token_count = 0;
    char *s = cfg->device_tokens;
    while (s && *s) {
        char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len > 0) {
            if (cfg->device_token_count == CONFIG_MAX_TOKENS) {
                snprintf(error, error_len, "at most %d device tokens", CONFIG_MAX_TOKENS);
                return -1;
            }
            cfg->device_token_list[cfg->device_token_count++] = strndup(s, len);
        }
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

void config_print_help(FILE *out, const char *program) {
    fprintf(out,
            "usage: %s [--config FILE] [--OPTION VALUE ...]\n\n"
            "voicecored serves XiaoZhi devices (WebSocket /xiaozhi/v1/, OTA /xiaozhi/ota/), dial-in workers\n"
            "(WebSocket /worker), /healthz, /metrics and the browser page at /, on one port.\n\n"
            "Every option is read, in rising precedence, from its default, the JSON config file (key),\n"
            "the environment (VOICECORED_<KEY>) and the command line (--key, '_' or '-').\n\n",
            program);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char flag[64], env[64];
        size_t k;
        for (k = 0; options[i].name[k]; k++) {
            flag[k] = options[i].name[k] == '_' ? '-' : options[i].name[k];
            env[k] = (char)toupper((unsigned char)options[i].name[k]);
        }
        flag[k] = env[k] = 0;
        fprintf(out, "  --%-26s %s\n  %-28s env VOICECORED_%s, default \"%s\"\n", flag, options[i].help, "", env,
                options[i].default_value);
    }
    fprintf(out, "\n  --config FILE                a JSON object with any of the keys above\n"
                 "  --help                       this text\n\n"
                 "SIGTERM drains: new connections are refused, queued audio plays out (up to drain_timeout_ms),\n"
                 "then every connection is closed with status 1001 and a reason.\n");
}

int config_load(config *cfg, int argc, char **argv, char *error, size_t error_len) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (set_option(cfg, &options[i], options[i].default_value, "default", error, error_len)) return -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_print_help(stdout, argv[0]);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(error, error_len, "--config needs a file");
                return -1;
            }
            if (load_file(cfg, argv[i + 1], error, error_len)) return -1;
        }
    }
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        char env[80] = "VOICECORED_";
        size_t k = strlen(env);
        for (const char *n = options[i].name; *n && k < sizeof env - 1; n++) env[k++] = (char)toupper((unsigned char)*n);
        env[k] = 0;
        const char *v = getenv(env);
        if (v && set_option(cfg, &options[i], v, env, error, error_len)) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(error, error_len, "unexpected argument \"%s\" (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const option *o = find_option(name, name_len);
        if (!o) {
            snprintf(error, error_len, "unknown option \"%s\" (see --help)", arg);
            return -1;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(error, error_len, "%s needs a value", arg);
                return -1;
            }
            value = argv[++i];
        }
        if (set_option(cfg, o, value, arg, error, error_len)) return -1;
    }
    int rate = cfg->downlink_sample_rate;
    if (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000) {
        snprintf(error, error_len, "downlink_sample_rate must be 8000, 12000, 16000, 24000 or 48000");
        return -1;
    }
    int ms = cfg->downlink_frame_ms;
    if (ms != 10 && ms != 20 && ms != 40 && ms != 60) {
        snprintf(error, error_len, "downlink_frame_ms must be 10, 20, 40 or 60");
        return -1;
    }
    if (!*cfg->worker_token) {
        snprintf(error, error_len, "worker_token is required (--worker-token or VOICECORED_WORKER_TOKEN): workers are never admitted without one");
        return -1;
    }
    if ((*cfg->tls_cert != 0) != (*cfg->tls_key != 0)) {
        snprintf(error, error_len, "tls_cert and tls_key go together");
        return -1;
    }
    if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "warn") &&
        strcmp(cfg->log_level, "error")) {
        snprintf(error, error_len, "log_level must be debug, info, warn or error");
        return -1;
    }
    return split_tokens(cfg, error, error_len);
}

void config_free(config *cfg) {
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].type != OPT_INT) {
            free(*string_field(cfg, &options[i]));
            *string_field(cfg, &options[i]) = NULL;
        }
    for (int i = 0; i < cfg->device_token_count; i++) free(cfg->device_token_list[i]);
    cfg->device_token_count = 0;
}
