/* The daemon's configuration: defaults, then a JSON file (--config), then environment variables
 * (VOICECORED_<NAME>), then command-line flags (--name value). One table lists every option, so
 * --help, the file keys, the variables and the flags never drift apart. */
#ifndef VOICECORED_CONFIG_H
#define VOICECORED_CONFIG_H
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_TOKENS 16

typedef struct config {
    char *host;
    int port;
    char *public_ws_url;        /* advertised in OTA; empty: ws://<request Host>/xiaozhi/v1/ */
    char *device_tokens;        /* comma-separated; empty: dev mode, devices need no token */
    char *ota_token;            /* the token OTA hands out; empty: the first device token */
    char *worker_token;         /* required */
    char *admin_token;          /* operators' bearer token for /api/v1/; empty: the admin API is disabled */
    char *tls_cert;
    char *tls_key;
    char *web_root;
    char *firmware_version;
    char *firmware_url;
    int hello_timeout_ms;
    int drain_timeout_ms;
    int device_max_message_bytes;
    int worker_max_message_bytes;
    int send_queue_bytes;
    int worker_send_queue_bytes;
    int max_devices;
    int max_workers;
    int header_timeout_ms;
    int max_pending_connections;
    int max_pending_per_address;
    int max_connections_per_address;
    int ping_interval_s;
    int ping_timeout_s;
    int downlink_sample_rate;
    int downlink_frame_ms;
    int prebuffer_frames;
    int max_queued_audio_ms;
    int uplink_burst_ms;
    int uplink_rate_percent;
    int opus_complexity;
    int opus_bitrate;
    char *log_level;
    char *log_file;
    char *coordinator;          /* JSON object passed to vc_coordinator_new */
    char *journal;              /* directory of the event journal; empty: none */
    int journal_max_mb;
    int journal_keep;
    int journal_digest_every;
    /* derived */
    char *device_token_list[CONFIG_MAX_TOKENS];
    int device_token_count;
} config;

/* Fills cfg from defaults, file, environment and argv. Returns 0; 1 when --help was printed
 * (exit 0); -1 on an error, with a message in error. */
int config_load(config *cfg, int argc, char **argv, char *error, size_t error_len);
void config_free(config *cfg);
void config_print_help(FILE *out, const char *program);

#endif
