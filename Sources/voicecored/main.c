/* voicecored: configuration, logging, the libuv loop, and an orderly exit after a drain. */
#include "config.h"
#include "server.h"
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void raise_fd_limit(void) {
    /* Ten thousand idle devices need ten thousand descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void close_walk(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int main(int argc, char **argv) {
    config cfg;
    char error[512];
    int rc = config_load(&cfg, argc, argv, error, sizeof error);
    if (rc == 1) {
        config_free(&cfg);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "voicecored: %s\n", error);
        config_free(&cfg);
        return 2;
    }
    raise_fd_limit();
    server s;
    memset(&s, 0, sizeof s);
    if (logger_open(&s.log, cfg.log_file, cfg.log_level) != 0) {
        fprintf(stderr, "voicecored: cannot open log file %s\n", cfg.log_file);
        config_free(&cfg);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (server_start(&s, &loop, &cfg) != 0) {
        if (s.lws) {
            /* lws 4.1 made a context but no listening vhost (a certificate it could not load, a
             * port in use); destroying such a context on a foreign loop crashes it, so the
             * process just ends, the reason logged. */
            logger_close(&s.log);
            exit(1);
        }
        server_destroy(&s);
        uv_walk(&loop, close_walk, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        logger_close(&s.log);
        config_free(&cfg);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    server_destroy(&s);
    /* lws closes its handles asynchronously on our (to it, foreign) loop; once they are closed a
     * second lws_context_destroy() completes the destruction and clears s.lws. */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (s.lws) lws_context_destroy(s.lws);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    log_event(&s.log, LOG_INFO, "exit", json_pack("{s:i}", "loop_close", rc));
    logger_close(&s.log);
    config_free(&cfg);
    return 0;
}
