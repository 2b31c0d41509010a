/* voicecored: configuration, logging, the libuv loop, the layers put together (the transport;
 * devices, workers and the HTTP routes on it; the hub over devices and workers; the status routes),
 * and an orderly exit after a drain. */
#include "config.h"
#include "device_session.h"
#include "admin_api.h"
#include "http_routes.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "transport.h"
#include "worker_link.h"
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
    logger log;
    static metrics m;
    if (logger_open(&log, cfg.log_file, cfg.log_level) != 0) {
        fprintf(stderr, "voicecored: cannot open log file %s\n", cfg.log_file);
        config_free(&cfg);
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    static transport t;
    static devices d;
    static workers w;
    static admin_api admin;
    static status st;
    static http_routes routes;
    transport_init(&t, &loop, &cfg, &log, &m);
    devices_init(&d, &t, &cfg, &log, &m);
    workers_init(&w, &t, &cfg, &log, &m);
    http_routes_register(&routes, &t);
    admin_api_init(&admin, &t, &cfg, &log, &m);
    hub *h = hub_new(&(hub_env){&loop, &cfg, &log, &m, &d, &w, &admin, &routes}, cfg.coordinator, error, sizeof error);
    if (!h) log_event(&log, LOG_ERROR, "coordinator.config_rejected", json_pack("{s:s}", "message", error));
    else status_register(&st, &t, h, &d, &w);
    if (!h || transport_listen(&t) != 0) {
        if (t.lws) {
            /* lws 4.1 made a context but no listening vhost (a certificate it could not load, a
             * port in use); destroying such a context on a foreign loop crashes it, so the
             * process just ends, the reason logged. */
            logger_close(&log);
            exit(1);
        }
        transport_destroy(&t);
        hub_free(h);
        uv_walk(&loop, close_walk, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        devices_free(&d);
        workers_free(&w);
        admin_api_free(&admin);
        logger_close(&log);
        config_free(&cfg);
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    transport_destroy(&t);
    hub_free(h);
    /* lws closes its handles asynchronously on our (to it, foreign) loop; once they are closed a
     * second lws_context_destroy() completes the destruction and clears t.lws. The devices and
     * workers closed meanwhile find no hub (hub_free unregistered it). */
    uv_run(&loop, UV_RUN_DEFAULT);
    if (t.lws) lws_context_destroy(t.lws);
    uv_walk(&loop, close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    devices_free(&d);
    workers_free(&w);
    admin_api_free(&admin);
    log_event(&log, LOG_INFO, "exit", json_pack("{s:i}", "loop_close", rc));
    logger_close(&log);
    config_free(&cfg);
    return 0;
}
