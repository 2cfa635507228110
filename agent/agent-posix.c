/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop-agent for Linux: the same logic as unloop-agent.exe (shared/agent.c)
 * over a mounted ESP directory.  Services are checked with a command
 * (default `systemctl is-active --quiet NAME`); the Safe Mode hook is a
 * command too (none by default: on Linux unloop.efi, or `unloop bless`,
 * clears the BCD store on the ESP itself).  Used by the tests to run the
 * Windows agent's logic natively.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../recovery/posix-volume.h"
#include "../shared/agent.h"
#include "../shared/ul-errno.h"
#include "../shared/unloop-contract.h"
#include "agent-opts.h"

static const char prog[] = "unloop-agent";
static volatile sig_atomic_t stop_requested;

struct posix_ctx {
    const struct agent_opts *o;
    struct ul_agent *agent;
};

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static bool p_sleep(void *vctx, uint32_t ms)
{
    struct posix_ctx *c = vctx;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    if (c->o->stop_after && c->agent->refreshes >= c->o->stop_after)
        return true;
    while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return stop_requested;
}

/* Run "sh -c 'CMD "$1"' sh ARG" (ARG may be NULL); returns the exit status,
 * or -errno / 128+signal. */
static int run_cmd(const char *cmd, const char *arg)
{
    char script[4200];
    snprintf(script, sizeof(script), arg ? "%s \"$1\"" : "%s", cmd);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", script, "sh", arg, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

static int p_service_state(void *vctx, const char *name, char *why, size_t why_size)
{
    struct posix_ctx *c = vctx;
    const char *cmd = c->o->check_cmd ? c->o->check_cmd : "systemctl is-active --quiet";
    int r = run_cmd(cmd, name);
    if (r < 0)
        return r;
    if (r == 0)
        return UL_AGENT_SVC_RUNNING;
    /* systemctl is-active: 3 inactive, 4 no such unit. */
    if (r == 4)
        return -UL_ENOENT;
    snprintf(why, why_size, "check exited with %d", r);
    return UL_AGENT_SVC_NOT_RUNNING;
}

static int p_clear_safe_mode(void *vctx)
{
    struct posix_ctx *c = vctx;
    int r = run_cmd(c->o->safe_mode_cmd, NULL);
    return r == 0 ? 0 : r < 0 ? r : -UL_EIO;
}

static const struct ul_agent_ops posix_ops = {
    .sleep = p_sleep,
    .service_state = p_service_state,
    .clear_safe_mode = p_clear_safe_mode,
};

static const struct ul_agent_ops posix_ops_no_clear = {
    .sleep = p_sleep,
    .service_state = p_service_state,
};

static void sink(void *ctx, enum ul_log_level level, const char *msg)
{
    bool quiet = *(bool *)ctx;
    if (quiet && level > UL_LOG_WARNING)
        return;
    fprintf(stderr, "%s: %s%s\n", prog,
            level == UL_LOG_ERROR ? "error: " : level == UL_LOG_WARNING ? "warning: " : "", msg);
}

static const struct ul_log_sink_ops sink_ops = { .write = sink };

static void usage(FILE *f)
{
    fprintf(f, "usage: %s [options]\n"
               "Marks the boot good for unloop once the system is up and healthy, then\n"
               "refreshes the last-good time while it stays healthy.\n\n%s"
               "  --check-cmd CMD   'CMD NAME' exits 0 when service NAME runs\n"
               "                    (default: systemctl is-active --quiet)\n"
               "  --safe-mode-cmd CMD  run CMD to clear unloop's one-shot Safe Mode\n"
               "                    (default: none, unloop.efi clears it on the next boot)\n"
               "Exit status: 0 blessed or stopped, 1 failure, 2 usage, 3 checks failed (--once).\n",
            prog, agent_usage_common);
}

int main(int argc, char **argv)
{
    static struct agent_opts o;
    static struct ul_posix_volume pv;
    static struct ul_log log;
    static struct ul_agent a;
    struct ul_clock clock = { &ul_posix_clock_ops, NULL };
    struct posix_ctx ctx = { &o, &a };

    ul_agent_config_defaults(&o.cfg);
    if (agent_opts_parse(&o, argc, argv, 1, prog) < 0)
        return 2;
    if (o.help) {
        usage(stdout);
        return 0;
    }
    if (o.version) {
        printf("%s %s\n", prog, UL_VERSION);
        return 0;
    }
    if (o.console || o.install || o.uninstall || o.service) {
        fprintf(stderr, "%s: --console, --install, --uninstall and --service are for "
                "unloop-agent.exe on Windows\n", prog);
        return 2;
    }
    const char *dir = ul_posix_find_esp(o.esp);
    if (!dir) {
        fprintf(stderr, "%s: no ESP found; name it with --esp DIR\n", prog);
        return 2;
    }
    int r = ul_posix_volume_open(&pv, dir);
    if (r < 0) {
        fprintf(stderr, "%s: cannot use %s as the ESP: %s\n", prog, dir, strerror(-r));
        return 1;
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    ul_log_init(&log, &sink_ops, &o.quiet, &clock, "agent");
    a.cfg = &o.cfg;
    a.ops = o.safe_mode_cmd ? &posix_ops : &posix_ops_no_clear;
    a.ctx = &ctx;
    a.esp = (struct ul_volume){ &ul_posix_volume_ops, &pv };
    a.clock = clock;
    a.log = &log;

    r = ul_agent_run(&a);
    if (r == UL_AGENT_UNHEALTHY)
        return 3;
    if (r < 0 || (!a.blessed && o.cfg.once))
        return 1;
    return 0;
}
