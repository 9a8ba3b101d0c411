/* compsc-nic: the SR-IOV NIC of one host.
 *
 *   compsc-nic --uplink tap:NAME|dgram:PATH --vfs N --dir RUNDIR
 *              [--mac-base MAC] [--rate 1g|10g] [--log-level L]
 *
 * Creates RUNDIR/vf0.sock .. vfN-1.sock (vfio-user, one VMM each) and
 * RUNDIR/pf.sock (the host's control), for this user, root and the group
 * of $COMPSC_SOCKET_GROUP only (docs/nic.md). Runs until SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/mac.h"
#include "../common/unix_sock.h"
#include "nic.h"
#include "pf_ctl.h"
#include "veb.h"
#include "vfio_user_server.h"


static void usage(FILE *out)
{
	fprintf(out,
		"Usage: compsc-nic --uplink SPEC --vfs N --dir RUNDIR [options]\n"
		"An SR-IOV NIC with the Intel 82576 VF interface, served to VMMs over vfio-user.\n"
		"\n"
		"  --uplink SPEC      tap:NAME (a TAP device) or dgram:PATH (unix datagram wire;\n"
		"                     frames go to PATH.peer)\n"
		"  --vfs N            number of virtual functions, 1..7\n"
		"  --dir RUNDIR       where vfN.sock and pf.sock are created (a new RUNDIR is made\n"
		"                     0700; an existing one must be yours and not group- or\n"
		"                     world-writable)\n"
		"  --mac-base MAC     MAC of VF 0; VF n gets MAC + n (default 02:00:00:00:00:10)\n"
		"  --rate 1g|10g      uplink line rate (default 1g; 'off' for unlimited)\n"
		"  --log-level LEVEL  error, warn, info or debug (default info)\n"
		"  --help             this text\n"
		"\n"
		"Sockets are 0600 and serve only this user and root. COMPSC_SOCKET_GROUP=GROUP\n"
		"admits that group's members too, and makes the VF sockets 0660 of GROUP.\n");
}

/* A refusal of the environment (not of the command line's syntax): one
 * line, usage status. */
static int refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int refuse(const char *fmt, ...)
{
	va_list ap;

	fputs("compsc-nic: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_USAGE;
}

/* The run directory holds the sockets a VMM hands guest RAM through and
 * the host assigns VFs through: whoever may write to it could put their
 * own sockets in their place. So a new one is created 0700 (0710 with the
 * group of $COMPSC_SOCKET_GROUP, which must reach the VF sockets), and an
 * existing one must be this user's and writable by nobody else. Its
 * parents are the administrator's to keep safe. 0, or the exit status
 * after a message. */
static int rundir_prepare(const char *dir)
{
	char err[256];
	struct stat st;
	gid_t gid;
	int shared = unix_sock_group(&gid, err, sizeof(err));

	if (shared < 0)
		return refuse("%s", err);
	if (mkdir(dir, 0700) == 0) {
		if (shared && (chown(dir, (uid_t)-1, gid) < 0 || chmod(dir, 0710) < 0))
			return refuse("--dir %s: cannot open it to the group of %s: %s", dir, UNIX_SOCK_GROUP_ENV,
				      strerror(errno));
		return 0;
	}
	if (errno != EEXIST)
		return cli_usage_error("--dir: cannot create %s: %s", dir, strerror(errno));
	if (stat(dir, &st) < 0)
		return refuse("--dir %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return refuse("--dir %s: not a directory", dir);
	if (st.st_uid != geteuid())
		return refuse("--dir %s: owned by uid %u, not by this user (uid %u): refused, its owner could "
			      "replace the sockets", dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return refuse("--dir %s: group- or world-writable (mode %04o): refused, anyone who can write there "
			      "could replace the sockets", dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

struct nic_main {
	struct nic nic;
	struct evloop loop;
	int signal_fd;
};

static void on_uplink(void *opaque, uint32_t events)
{
	struct nic_main *m = opaque;

	(void)events;
	veb_uplink_readable(&m->nic);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct nic_main *m = opaque;
	uint64_t expirations;

	(void)events;
	if (read(m->nic.timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("timer: %s", strerror(errno));
	nic_service(&m->nic);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct nic_main *m = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(m->signal_fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: shutting down", si.ssi_signo);
	evloop_stop(&m->loop);
}

int main(int argc, char **argv)
{
	enum { OPT_UPLINK = 256, OPT_VFS, OPT_DIR, OPT_MAC, OPT_RATE, OPT_LOG, OPT_HELP };
	static const struct option longopts[] = {
		{ "uplink", required_argument, NULL, OPT_UPLINK },
		{ "vfs", required_argument, NULL, OPT_VFS },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "mac-base", required_argument, NULL, OPT_MAC },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct nic_config cfg = { .n_vfs = 0, .mac_base = { 0x02, 0, 0, 0, 0, 0x10 }, .rate_bps = 1000000000ull,
				   .sw = &veb_switch_ops };
	const char *uplink_spec = NULL, *dir = NULL;
	char err[512], path[4096];
	int opt, ret;

	log_init("compsc-nic", LOG_INFO);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_UPLINK:
			uplink_spec = optarg;
			if (strncmp(optarg, "tap:", 4) && strncmp(optarg, "dgram:", 6))
				return cli_usage_error("--uplink: '%s' is neither tap:NAME nor dgram:PATH", optarg);
			break;
		case OPT_VFS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > NIC_MAX_VFS)
				return cli_usage_error("--vfs: '%s' is not a number from 1 to %d", optarg, NIC_MAX_VFS);
			cfg.n_vfs = (unsigned)n;
			break;
		}
		case OPT_DIR:
			dir = optarg;
			break;
		case OPT_MAC:
			if (mac_parse(optarg, cfg.mac_base) < 0 || !mac_is_unicast(cfg.mac_base))
				return cli_usage_error("--mac-base: '%s' is not a unicast MAC like 02:00:00:00:00:10", optarg);
			if (cfg.mac_base[5] > 0xff - NIC_MAX_VFS)
				return cli_usage_error("--mac-base: last byte must leave room for %d VFs", NIC_MAX_VFS);
			break;
		case OPT_RATE:
			if (strcmp(optarg, "1g") == 0)
				cfg.rate_bps = 1000000000ull;
			else if (strcmp(optarg, "10g") == 0)
				cfg.rate_bps = 10000000000ull;
			else if (strcmp(optarg, "off") == 0)
				cfg.rate_bps = 0;
			else
				return cli_usage_error("--rate: '%s' is not 1g, 10g or off", optarg);
			break;
		case OPT_LOG:
			if ((ret = cli_log_level_option(optarg)))
				return ret;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		case ':':
			return cli_usage_error("option %s needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!uplink_spec || !cfg.n_vfs || !dir)
		return cli_usage_error("--uplink, --vfs and --dir are required");
	if ((ret = rundir_prepare(dir)))
		return ret;

	struct nic_main *m = calloc(1, sizeof(*m));
	if (!m || evloop_init(&m->loop) < 0) {
		log_error("out of memory");
		return 1;
	}
	nic_init(&m->nic, &cfg);
	m->nic.loop = &m->loop;
	m->nic.rundir = dir;
	m->nic.uplink = uplink_open(uplink_spec, err, sizeof(err));
	if (!m->nic.uplink) {
		fprintf(stderr, "compsc-nic: %s\n", err);
		return 1;
	}
	m->nic.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->signal_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->nic.timer_fd < 0 || m->signal_fd < 0 ||
	    evloop_add(&m->loop, uplink_fd(m->nic.uplink), EPOLLIN, on_uplink, m) < 0 ||
	    evloop_add(&m->loop, m->nic.timer_fd, EPOLLIN, on_timer, m) < 0 ||
	    evloop_add(&m->loop, m->signal_fd, EPOLLIN, on_signal, m) < 0) {
		log_error("event loop set-up failed: %s", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < cfg.n_vfs; i++) {
		snprintf(path, sizeof(path), "%s/vf%u.sock", dir, i);
		if (vfio_user_listen(&m->nic, i, path, err, sizeof(err)) < 0) {
			fprintf(stderr, "compsc-nic: vf%u: %s\n", i, err);
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/pf.sock", dir);
	if (pf_ctl_listen(&m->nic, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "compsc-nic: pf: %s\n", err);
		return 1;
	}
	char mac_text[MAC_STR_LEN];
	log_info("ready: %u VFs (MAC %s + n), uplink %s at %s, sockets in %s",
		 cfg.n_vfs, mac_format(cfg.mac_base, mac_text), uplink_describe(m->nic.uplink),
		 cfg.rate_bps ? (cfg.rate_bps == 10000000000ull ? "10 Gbit/s" : "1 Gbit/s") : "unlimited rate", dir);

	evloop_run(&m->loop);

	for (unsigned i = 0; i < cfg.n_vfs; i++) {
		snprintf(path, sizeof(path), "%s/vf%u.sock", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/pf.sock", dir);
	unlink(path);
	nic_destroy(&m->nic);
	uplink_close(m->nic.uplink);
	evloop_destroy(&m->loop);
	free(m);
	return 0;
}
