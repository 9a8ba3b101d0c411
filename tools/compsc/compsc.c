/* compsc: the command line for CompSC VMs.
 *
 *   compsc status VM [--json]
 *   compsc migrate VM --to tcp:HOST:PORT [--downtime-ms N] [--bandwidth B]
 *                     [--max-rounds N] [--max-precopy-ms N] [--timeout-ms N] [--json]
 *                     [--method pv|bonding|compsc|compsc-off [--dest-api SOCK --dest-vf PATH]]
 *   compsc device-del VM [--id vfN] [--timeout-ms N] [--json]
 *   compsc device-add VM [--path SOCK] [--id vfN] [--timeout-ms N] [--json]
 *   compsc cancel VM
 *   compsc migrate-resolve VM resume-here|destination-running
 *   compsc quit VM
 *   compsc [SUBCOMMAND] --help
 *
 * VM is the path of a compsc-vmm control socket (--api PATH). migrate shows
 * a live progress line (stage, round, transferred, remaining, dirty rate)
 * and ends with a report: total time, downtime (source pause to
 * destination resume, both CLOCK_MONOTONIC on one host, reported by the
 * destination to the source), bytes and pages per round, time per stage.
 * --method bonding is the bonding-failover baseline: the VF is unplugged on
 * the source (the guest's bond fails over to virtio-net), the VM migrates,
 * the destination's VF is plugged (the bond fails back); the report adds
 * each phase's duration. The other methods are a plain migration, labelled.
 * When COMMIT was sent and the destination never confirmed, migrate says
 * the outcome is unknown and what to do: the source VM waits, paused, for
 * migrate-resolve. Exit status: 0 success, 1 the operation failed, 2
 * usage, 3 (migrate) the outcome is unknown. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/unix_sock.h"

struct conn {
	int fd;
	char buf[1 << 20];
	size_t len;
};

/* Each subcommand's synopsis and help, printed by `compsc SUB --help` and
 * (synopses only) by `compsc --help`. The limits of migrate's numbers are
 * the VMM's (docs/api.md): it checks them and says which one is wrong. */
static const struct subcommand {
	const char *name;
	const char *synopsis;
	const char *help;
} subcommands[] = {
	{ "status", "compsc status VM [--json]",
	  "Shows the VM's run state, memory, vCPUs, devices and migration.\n"
	  "  --json               the control socket's answer as JSON\n" },
	{ "migrate", "compsc migrate VM --to tcp:HOST:PORT [options]",
	  "Live-migrates the VM to a compsc-vmm started with --incoming tcp:HOST:PORT,\n"
	  "showing progress, and ends with a report (downtime, total time, bytes,\n"
	  "rounds, time per stage). The source keeps running if anything fails.\n"
	  "  --to tcp:HOST:PORT   the destination (required)\n"
	  "  --downtime-ms N      downtime budget: pre-copy stops when the rest fits (default 300)\n"
	  "  --bandwidth B        bytes per second, e.g. 100M (default unlimited)\n"
	  "  --max-rounds N       pre-copy rounds at most (default 30)\n"
	  "  --max-precopy-ms N   pre-copy time at most (default 60000)\n"
	  "  --timeout-ms N       how long to wait for the destination at each step (default 5000)\n"
	  "  --method M           pv, bonding, compsc or compsc-off (default compsc): the label\n"
	  "                       of the report; bonding also unplugs the VF on the source\n"
	  "                       first, and after the migration plugs --dest-vf into the\n"
	  "                       destination (started with --vf-unplugged) and waits for the\n"
	  "                       guest's bond to fail back; the report shows each phase\n"
	  "  --dest-api SOCK      bonding: the destination VMM's control socket\n"
	  "  --dest-vf PATH       bonding: the VF the destination VMM was given\n"
	  "  --hotplug-timeout-ms N  bonding: the guest's time to acknowledge (default 5000)\n"
	  "  --json               print the final report as JSON\n"
	  "Exit status 0 when the destination runs the VM, 1 when the migration failed (the VM\n"
	  "runs here), 3 when the outcome is unknown: COMMIT was sent and the destination never\n"
	  "confirmed; the VM waits here, paused, for compsc migrate-resolve.\n" },
	{ "device-del", "compsc device-del VM [--id vfN] [--timeout-ms N] [--json]",
	  "Asks the guest to release a VF (default: the first attached one), waits for its\n"
	  "acknowledgement and detaches the VF, which another VMM may then take. A guest\n"
	  "that does not acknowledge in time keeps the VF (exit status 1).\n"
	  "  --id vfN             the VF slot\n"
	  "  --timeout-ms N       the guest's time to acknowledge (default 5000, at most 60000)\n"
	  "  --json               print the result as JSON\n" },
	{ "device-add", "compsc device-add VM [--path SOCK] [--id vfN] [--timeout-ms N] [--json]",
	  "Plugs a VF into an empty slot (default: the first), tells the guest and waits for\n"
	  "its acknowledgement (it probed the VF). A VF in use by another VMM is refused.\n"
	  "  --path SOCK          the VF's vfio-user socket (RUNDIR/vfN.sock); default: the\n"
	  "                       one the slot was given (--vf-unplugged PATH)\n"
	  "  --id vfN             the VF slot\n"
	  "  --timeout-ms N       the guest's time to acknowledge (default 5000, at most 60000)\n"
	  "  --json               print the result as JSON\n" },
	{ "cancel", "compsc cancel VM", "Cancels the VM's outgoing migration; the VM keeps running here.\n" },
	{ "migrate-resolve", "compsc migrate-resolve VM resume-here|destination-running",
	  "Ends a migration whose outcome is unknown (compsc migrate exited with status 3;\n"
	  "compsc status shows outcome-unknown). Find out first whether the destination runs\n"
	  "the VM: exactly one side may.\n"
	  "  destination-running  it does: the source VMM lets go of the VM and exits\n"
	  "  resume-here          it does not, and never will (its VMM is gone or stopped):\n"
	  "                       the VM resumes here, its devices (a VF) working again\n" },
	{ "bench", "compsc bench paper [--quick] [--only N,M] [--out DIR]",
	  "Runs the paper's experiments (bench/paper.py: throughput over time, downtime,\n"
	  "missed and duplicated packets, overhead, scaling) for every method on a private\n"
	  "test bed (root), and writes a CSV, a PNG plot and a markdown table per experiment.\n"
	  "  --quick              a few seconds of each\n"
	  "  --only N,M           these experiments only (1..5)\n"
	  "  --out DIR            where the results go (default: bench/results of the source tree)\n"
	  "The accelerator is $COMPSC_ACCEL's (default auto).\n" },
	{ "quit", "compsc quit VM", "Stops the VM (its console is flushed, devices detached).\n" },
};

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

static void print_usage(FILE *out, const struct subcommand *only)
{
	if (only) {
		fprintf(out, "Usage: %s\n%s", only->synopsis, only->help);
	} else {
		for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
			fprintf(out, "%s %s\n", i ? "      " : "Usage:", subcommands[i].synopsis);
		fprintf(out, "       compsc SUBCOMMAND --help\n");
	}
	fprintf(out, "VM is a compsc-vmm control socket path (compsc-vmm --api PATH).\n");
}

static const struct subcommand *current;	/* for usage errors */

/* A usage error: what was wrong, then the synopsis; exit status 2. */
static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "compsc%s%s: ", current ? " " : "", current ? current->name : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	print_usage(stderr, current);
	return 2;
}



static int conn_open(struct conn *c, const char *path)
{
	char err[256];

	c->len = 0;
	c->fd = unix_sock_connect(path, err, sizeof(err));
	if (c->fd < 0) {
		fprintf(stderr, "compsc: %s\n", err);
		return -1;
	}
	return 0;
}

/* Next message, waiting up to timeout_ms (-1 forever). NULL on timeout
 * (*eof false) or end of connection (*eof true). */
static json_t *conn_next(struct conn *c, int timeout_ms, bool *eof)
{
	*eof = false;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			json_t *msg = json_loadb(c->buf, (size_t)(nl - c->buf), 0, NULL);
			size_t used = (size_t)(nl - c->buf) + 1;
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			if (msg)
				return msg;
			continue;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0;
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int r = poll(&pfd, 1, timeout_ms);
		if (r == 0)
			return NULL;
		ssize_t n = r < 0 ? -1 : read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0) {
			*eof = true;
			return NULL;
		}
		c->len += (size_t)n;
	}
}

static int conn_send(struct conn *c, json_t *msg)
{
	char *t = json_dumps(msg, JSON_COMPACT);
	int ret = -1;

	if (t) {
		size_t n = strlen(t);
		t[n] = '\n';
		ret = write(c->fd, t, n + 1) == (ssize_t)(n + 1) ? 0 : -1;
		free(t);
	}
	json_decref(msg);
	return ret;
}

/* Sends a command and returns its reply (events arriving meanwhile are
 * handed to on_event). */
static json_t *command(struct conn *c, json_t *cmd, void (*on_event)(json_t *ev, void *arg), void *arg)
{
	bool eof;

	if (conn_send(c, cmd) < 0)
		return NULL;
	for (;;) {
		json_t *m = conn_next(c, 10000, &eof);
		if (!m)
			return NULL;
		if (json_object_get(m, "return") || json_object_get(m, "error"))
			return m;
		if (json_object_get(m, "event") && on_event)
			on_event(m, arg);
		json_decref(m);
	}
}

static const char *error_desc(json_t *reply)
{
	const char *d = json_string_value(json_object_get(json_object_get(reply, "error"), "desc"));
	return d ? d : "no reply";
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : 0;
}

static void human_bytes(double b, char *out, size_t n)
{
	if (b >= 1 << 30)
		snprintf(out, n, "%.2f GiB", b / (1 << 30));
	else if (b >= 1 << 20)
		snprintf(out, n, "%.1f MiB", b / (1 << 20));
	else
		snprintf(out, n, "%.0f KiB", b / 1024);
}

static void progress_line(json_t *p, bool tty)
{
	char tx[32], rem[32];

	human_bytes(num(p, "transferred-bytes"), tx, sizeof(tx));
	human_bytes(num(p, "remaining-bytes"), rem, sizeof(rem));
	fprintf(stderr, "%s%-18s round %-3.0f transferred %-10s remaining %-10s dirty %.0f pages/s  %.0f ms%s",
		tty ? "\r" : "", json_string_value(json_object_get(p, "stage")) ?: "?", num(p, "round"), tx, rem,
		num(p, "dirty-rate-pages-per-s"), num(p, "total-time-ms"), tty ? "\033[K" : "\n");
	fflush(stderr);
}

/* What an orchestrator (or a person) must do when the outcome is unknown. */
static void report_unknown(const char *vm, json_t *p)
{
	const char *peer = json_string_value(json_object_get(p, "peer")) ?: "?";

	printf("migration OUTCOME UNKNOWN: source -> %s\n", peer);
	printf("  %s\n", json_string_value(json_object_get(p, "error")) ?: "COMMIT sent, no confirmation");
	printf("  The destination may or may not be running the VM. The VM is paused here, its\n"
	       "  devices held; nothing happens until you resolve it. Find out whether the\n"
	       "  destination (%s) runs the VM, then:\n", peer);
	printf("  - it does: this source VMM lets go and exits\n"
	       "      compsc migrate-resolve %s destination-running\n", vm);
	printf("  - it does not and never will (its VMM has exited, or stop it first): the VM\n"
	       "    resumes here\n"
	       "      compsc migrate-resolve %s resume-here\n", vm);
}

static void report(json_t *p)
{
	const char *status = json_string_value(json_object_get(p, "status"));
	char b[32];

	printf("migration %s: %s -> %s\n", status ? status : "?", "source", json_string_value(json_object_get(p, "peer")) ?: "?");
	if (json_object_get(p, "error"))
		printf("  error (%s): %s\n", json_string_value(json_object_get(p, "failed-stage")) ?: "?",
		       json_string_value(json_object_get(p, "error")));
	printf("  total time      %.1f ms\n", num(p, "total-time-ms"));
	json_t *bounds = json_object_get(p, "downtime-bounds-ms");
	if (json_object_get(p, "downtime-ms") && json_array_size(bounds) == 2)
		printf("  downtime        %.1f ms (source pause -> destination resume, between %.1f and %.1f ms)\n",
		       num(p, "downtime-ms"), json_number_value(json_array_get(bounds, 0)),
		       json_number_value(json_array_get(bounds, 1)));
	else if (json_object_get(p, "downtime-ms"))
		printf("  downtime        %.1f ms (source pause -> destination resume)\n", num(p, "downtime-ms"));
	else
		printf("  downtime        unknown\n");
	if (json_object_get(p, "precopy-exit"))
		printf("  pre-copy ended  %s\n", json_string_value(json_object_get(p, "precopy-exit")));
	human_bytes(num(p, "transferred-bytes"), b, sizeof(b));
	printf("  transferred     %s, %.0f pages\n", b, num(p, "pages"));
	json_t *rounds = json_object_get(p, "rounds");
	json_t *carried = json_object_get(p, "carried");
	if (carried) {
		printf("  held RX frames  %.0f arrived at the source NIC during the downtime, delivered by the destination"
		       " (%.0f dropped)\n", num(carried, "rx-held-frames"), num(carried, "rx-dropped-frames"));
		printf("  unsent TX       %.0f descriptors posted before the stop, sent by the destination\n",
		       num(carried, "tx-unsent-descriptors"));
	}
	printf("  rounds          %zu\n", json_array_size(rounds));
	printf("  %6s %10s %10s %12s %10s %12s %14s\n", "round", "pages", "zero", "bytes", "ms", "dirtied", "dirty pages/s");
	size_t i;
	json_t *r;
	json_array_foreach(rounds, i, r) {
		double msr = num(r, "ms");
		printf("  %6.0f %10.0f %10.0f %12.0f %10.1f %12.0f %14.0f\n", num(r, "round"), num(r, "pages"),
		       num(r, "zero-pages"), num(r, "bytes"), msr, num(r, "dirty-pages"),
		       msr > 0 ? num(r, "dirty-pages") * 1000 / msr : 0);
	}
	printf("  time per stage:\n");
	const char *key;
	json_t *v;
	json_object_foreach(json_object_get(p, "stage-ms"), key, v)
		printf("    %-20s %10.1f ms\n", key, json_number_value(v));
}

struct mig_watch {
	json_t *final;
	bool tty, json;
	double last_line;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_mig_event(json_t *ev, void *arg)
{
	struct mig_watch *w = arg;
	json_t *d = json_object_get(ev, "data");
	const char *st = json_string_value(json_object_get(d, "status"));

	if (strcmp(json_string_value(json_object_get(ev, "event")) ?: "", "MIGRATION") != 0 || !st)
		return;
	if (!w->json)
		progress_line(d, w->tty);
	if (strcmp(st, "completed") == 0 || strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0 ||
	    strcmp(st, "outcome-unknown") == 0) {
		json_decref(w->final);
		w->final = json_incref(d);
	}
}

/* migrate's extra options (the method and bonding's destination). */
struct mig_method {
	const char *method;	/* pv, bonding, compsc, compsc-off */
	const char *dest_api, *dest_vf;
	long long hp_timeout_ms;
};

/* migrate's options, checked before anything connects: returns 0 with the
 * command's arguments, or the usage-error status. */
static int parse_migrate_args(int argc, char **argv, json_t *args, struct mig_watch *w, struct mig_method *mm)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			w->json = true;
			continue;
		}
		if (strcmp(a, "--to") && strcmp(a, "--bandwidth") && strcmp(a, "--downtime-ms") &&
		    strcmp(a, "--max-rounds") && strcmp(a, "--max-precopy-ms") && strcmp(a, "--timeout-ms") &&
		    strcmp(a, "--method") && strcmp(a, "--dest-api") && strcmp(a, "--dest-vf") &&
		    strcmp(a, "--hotplug-timeout-ms"))
			return usage_error("unknown option '%s'", a);
		if (i + 1 >= argc)
			return usage_error("option %s needs a value", a);
		const char *v = argv[++i];
		char *end;
		if (strcmp(a, "--to") == 0) {
			json_object_set_new(args, "uri", json_string(v));
		} else if (strcmp(a, "--bandwidth") == 0) {
			json_object_set_new(args, "bandwidth", json_string(v));
		} else if (strcmp(a, "--method") == 0) {
			if (strcmp(v, "pv") && strcmp(v, "bonding") && strcmp(v, "compsc") && strcmp(v, "compsc-off"))
				return usage_error("--method: '%s' is not pv, bonding, compsc or compsc-off", v);
			mm->method = v;
		} else if (strcmp(a, "--dest-api") == 0) {
			mm->dest_api = v;
		} else if (strcmp(a, "--dest-vf") == 0) {
			mm->dest_vf = v;
		} else {
			long long n = strtoll(v, &end, 10);
			if (*end || end == v || n < 0)
				return usage_error("'%s' is not a number of milliseconds or rounds", v);
			if (strcmp(a, "--hotplug-timeout-ms") == 0)
				mm->hp_timeout_ms = n;
			else
				json_object_set_new(args, a + 2, json_integer(n));
		}
	}
	if (!json_object_get(args, "uri"))
		return usage_error("%s", "--to tcp:HOST:PORT is required");
	bool bonding = strcmp(mm->method, "bonding") == 0;
	if (bonding && (!mm->dest_api || !mm->dest_vf))
		return usage_error("%s", "--method bonding needs --dest-api SOCK and --dest-vf PATH");
	if (!bonding && (mm->dest_api || mm->dest_vf))
		return usage_error("%s", "--dest-api and --dest-vf belong to --method bonding");
	return 0;
}

/* Runs the migration, showing progress; returns the final progress object
 * (NULL if the source went away before the end). */
static json_t *run_migrate(struct conn *c, json_t *args, struct mig_watch *wp)
{
	struct mig_watch w = *wp;

	json_t *rep = command(c, json_pack("{s:s,s:O}", "execute", "migrate", "arguments", args), on_mig_event, &w);
	if (!rep || json_object_get(rep, "error")) {
		fprintf(stderr, "compsc: migrate: %s\n", error_desc(rep));
		json_decref(rep);
		return NULL;
	}
	json_decref(rep);
	/* Live progress from query-migrate; the end arrives as an event
	 * (the source exits right after a completed migration). */
	while (!w.final) {
		bool eof;
		json_t *m = conn_next(c, 200, &eof);
		if (m) {
			if (json_object_get(m, "event"))
				on_mig_event(m, &w);
			else if (json_object_get(m, "return") && !w.json &&
				 json_object_get(json_object_get(m, "return"), "stage")) {
				double now = mono();
				if (w.tty || now - w.last_line >= 1.0) {
					progress_line(json_object_get(m, "return"), w.tty);
					w.last_line = now;
				}
			}
			json_decref(m);
			continue;
		}
		if (eof)
			break;
		conn_send(c, json_pack("{s:s}", "execute", "query-migrate"));
	}
	if (w.tty && !w.json)
		fputc('\n', stderr);
	if (!w.final)
		fprintf(stderr, "compsc: the source VMM closed the connection before the migration ended\n");
	return w.final;
}

static bool completed(json_t *final)
{
	return final && strcmp(json_string_value(json_object_get(final, "status")) ?: "", "completed") == 0;
}

static void print_json(json_t *o)
{
	char *t = json_dumps(o, JSON_INDENT(2));
	printf("%s\n", t);
	free(t);
}

static int do_migrate(const char *vm, struct conn *c, json_t *args, struct mig_watch *w, const struct mig_method *mm);

static bool json_json;	/* status --json */

static double ms_since(double t0)
{
	return (mono() - t0) * 1000;
}

/* device-del / device-add on an open connection: the reply (NULL: none). */
static json_t *hotplug_command(struct conn *c, const char *exec, json_t *args)
{
	return command(c, json_pack("{s:s,s:o}", "execute", exec, "arguments", args), NULL, NULL);
}

/* The destination runs the VM once the migration is through (it may
 * still be activating when the source reports completion). */
static bool wait_running(struct conn *c, int timeout_ms)
{
	double end = mono() + timeout_ms / 1000.0;

	do {
		json_t *rep = command(c, json_pack("{s:s}", "execute", "status"), NULL, NULL);
		const char *st = json_string_value(json_object_get(json_object_get(rep, "return"), "state"));
		bool running = st && strcmp(st, "running") == 0;
		json_decref(rep);
		if (running)
			return true;
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	} while (mono() < end);
	return false;
}

static int do_migrate(const char *vm, struct conn *c, json_t *args, struct mig_watch *w, const struct mig_method *mm)
{
	bool bonding = strcmp(mm->method, "bonding") == 0;
	json_t *phases = json_object(), *final = NULL;
	const char *error = NULL;
	char why[600];
	double t0 = mono(), t;
	int ok = 0;

	if (bonding) {
		/* 1. The source's guest releases its VF: traffic moves to
		 * virtio-net, the VF is detached. */
		t = mono();
		json_t *del = json_pack("{s:I}", "timeout-ms", (json_int_t)mm->hp_timeout_ms);
		json_t *rep = hotplug_command(c, "device-del", del);
		json_t *r = json_object_get(rep, "return");
		if (!r) {
			snprintf(why, sizeof(why), "unplug on the source: %s", error_desc(rep));
			error = why;
			json_decref(rep);
			goto report;
		}
		json_object_set_new(phases, "unplug-ms", json_real(ms_since(t)));
		json_object_set_new(phases, "unplug-guest-ack-ms", json_real(num(r, "ack-ms")));
		json_object_set_new(phases, "vf", json_string(json_string_value(json_object_get(r, "id")) ?: "vf0"));
		json_decref(rep);
		if (!w->json)
			fprintf(stderr, "compsc: bonding: the source's VF is unplugged (%.1f ms)\n",
				num(phases, "unplug-ms"));
	}
	/* 2. The migration itself (virtio-net carries the traffic). */
	t = mono();
	final = run_migrate(c, args, w);
	json_object_set_new(phases, "migrate-ms", json_real(ms_since(t)));
	if (!completed(final)) {
		error = "the migration did not complete";
		goto report;
	}
	if (bonding) {
		/* 3. The destination's VF is plugged; 4. the guest's bond takes
		 * it and fails back (its acknowledgement). */
		static struct conn dc;
		bool eof;
		if (conn_open(&dc, mm->dest_api) < 0) {
			error = "cannot reach the destination's control socket";
			goto report;
		}
		json_t *g = conn_next(&dc, 5000, &eof);
		if (!g || !json_object_get(g, "greeting")) {
			json_decref(g);
			error = "the destination's control socket sent no greeting";
			goto report;
		}
		json_decref(g);
		t = mono();
		if (!wait_running(&dc, 10000)) {
			error = "the destination VM is not running 10 s after the migration";
			goto report;
		}
		json_object_set_new(phases, "activation-wait-ms", json_real(ms_since(t)));
		json_t *add = json_pack("{s:s,s:s,s:I}", "path", mm->dest_vf, "id",
					json_string_value(json_object_get(phases, "vf")), "timeout-ms",
					(json_int_t)mm->hp_timeout_ms);
		t = mono();
		json_t *rep = hotplug_command(&dc, "device-add", add);
		json_t *r = json_object_get(rep, "return");
		if (!r) {
			snprintf(why, sizeof(why), "plug on the destination: %s", error_desc(rep));
			error = why;
			json_decref(rep);
			goto report;
		}
		double all = ms_since(t);
		json_object_set_new(phases, "plug-ms", json_real(num(r, "attach-ms")));
		json_object_set_new(phases, "failback-ms", json_real(all - num(r, "attach-ms")));
		json_object_set_new(phases, "failback-guest-ack-ms", json_real(num(r, "ack-ms")));
		json_decref(rep);
		close(dc.fd);
	}
	ok = 1;
report:
	json_object_set_new(phases, "total-ms", json_real(ms_since(t0)));
	if (!final)
		final = json_object();
	json_object_set_new(final, "method", json_string(mm->method));
	json_object_set(final, "phases", phases);
	if (error)
		json_object_set_new(final, "method-error", json_string(error));
	bool unknown = strcmp(json_string_value(json_object_get(final, "status")) ?: "", "outcome-unknown") == 0;
	if (w->json) {
		print_json(final);
	} else if (unknown) {
		report_unknown(vm, final);
	} else {
		if (json_object_get(final, "status"))
			report(final);
		printf("  method          %s\n", mm->method);
		if (bonding) {
			static const char *const keys[][2] = {
				{ "unplug-ms", "1. unplug the VF on the source" },
				{ "unplug-guest-ack-ms", "   of which the guest's failover" },
				{ "migrate-ms", "2. migrate (virtio-net)" },
				{ "activation-wait-ms", "   destination running" },
				{ "plug-ms", "3. plug the destination's VF" },
				{ "failback-ms", "4. fail back (guest probe)" },
				{ "total-ms", "total" },
			};
			printf("  phases:\n");
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
				if (json_object_get(phases, keys[i][0]))
					printf("    %-34s %10.1f ms\n", keys[i][1], num(phases, keys[i][0]));
		}
		if (error)
			fprintf(stderr, "compsc: migrate --method %s: %s\n", mm->method, error);
	}
	if (unknown)
		fprintf(stderr, "compsc: migrate: outcome unknown: resolve it with compsc migrate-resolve %s "
			"resume-here|destination-running\n", vm);
	json_decref(phases);
	json_decref(final);
	return ok ? 0 : unknown ? 3 : 1;
}

/* migrate-resolve's one argument, checked before anything connects. */
static int parse_resolve_args(int argc, char **argv)
{
	if (argc != 1)
		return usage_error("%s", "one outcome after the VM: resume-here or destination-running");
	if (strcmp(argv[0], "resume-here") && strcmp(argv[0], "destination-running"))
		return usage_error("'%s' is not an outcome: resume-here or destination-running", argv[0]);
	return 0;
}

static int do_resolve(struct conn *c, const char *outcome)
{
	json_t *rep = command(c, json_pack("{s:s,s:{s:s}}", "execute", "migrate-resolve", "arguments", "outcome",
					   outcome), NULL, NULL);
	if (!rep || json_object_get(rep, "error")) {
		fprintf(stderr, "compsc: migrate-resolve: %s\n", error_desc(rep));
		json_decref(rep);
		return 1;
	}
	json_decref(rep);
	printf(strcmp(outcome, "resume-here") == 0 ? "resolved: the VM runs here again\n"
						   : "resolved: the destination runs the VM; the source VMM exits\n");
	return 0;
}

/* device-del / device-add: their options, the command, one line. */
static int do_hotplug(struct conn *c, const char *cmd, int argc, char **argv)
{
	json_t *args = json_object();
	bool as_json = false;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			as_json = true;
			continue;
		}
		if (strcmp(a, "--id") && strcmp(a, "--timeout-ms") && (strcmp(a, "--path") || cmd[7] != 'a')) {
			json_decref(args);
			return usage_error("unknown option '%s'", a);
		}
		if (i + 1 >= argc) {
			json_decref(args);
			return usage_error("option %s needs a value", a);
		}
		const char *v = argv[++i];
		if (strcmp(a, "--timeout-ms") == 0) {
			char *end;
			long long n = strtoll(v, &end, 10);
			if (*end || end == v || n <= 0) {
				json_decref(args);
				return usage_error("'%s' is not a number of milliseconds", v);
			}
			json_object_set_new(args, "timeout-ms", json_integer(n));
		} else {
			json_object_set_new(args, a + 2, json_string(v));
		}
	}
	if (!c)
		return 0;	/* options checked */
	json_t *rep = hotplug_command(c, cmd, args);
	json_t *r = json_object_get(rep, "return");
	if (!r) {
		/* The VMM's message names the command already. */
		fprintf(stderr, "compsc: %s\n", error_desc(rep));
		json_decref(rep);
		return 1;
	}
	if (as_json)
		print_json(r);
	else
		printf("%s %s: the guest acknowledged after %.1f ms; %s %.1f ms; %.1f ms in all\n",
		       json_string_value(json_object_get(r, "id")) ?: "?", cmd[7] == 'a' ? "added" : "removed",
		       num(r, "ack-ms"), cmd[7] == 'a' ? "attached in" : "detached in", num(r, "attach-ms"),
		       num(r, "total-ms"));
	json_decref(rep);
	return 0;
}

/* compsc bench paper: the experiments script of the source tree this
 * program was built from, against this build; it prints its own tables. */
static int do_bench(int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "paper"))
		return usage_error("%s", "the one benchmark is 'paper'");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--quick") == 0) {
			setenv("COMPSC_PAPER_QUICK", "1", 1);
		} else if ((strcmp(a, "--only") == 0 || strcmp(a, "--out") == 0) && i + 1 < argc) {
			const char *v = argv[++i];
			if (a[2] == 'o' && a[3] == 'n' && strspn(v, "12345,") != strlen(v))
				return usage_error("--only takes experiment numbers 1..5, e.g. 1,3: not '%s'", v);
			setenv(a[3] == 'n' ? "COMPSC_PAPER_ONLY" : "COMPSC_RESULTS_DIR", v, 1);
		} else {
			return usage_error("unknown option or missing value: '%s'", a);
		}
	}
	setenv("COMPSC_BUILD", CSC_BUILD_ROOT, 0);
	if (!getenv("COMPSC_MIGRATION_TOKEN")) {
		/* The VMMs it starts share a one-time secret. */
		unsigned char r[16];
		char hex[33];
		FILE *u = fopen("/dev/urandom", "rb");
		if (!u || fread(r, 1, sizeof(r), u) != sizeof(r)) {
			fprintf(stderr, "compsc: bench: cannot read /dev/urandom\n");
			if (u)
				fclose(u);
			return 1;
		}
		fclose(u);
		for (int i = 0; i < 16; i++)
			sprintf(hex + 2 * i, "%02x", r[i]);
		setenv("COMPSC_MIGRATION_TOKEN", hex, 1);
	}
	execlp("python3", "python3", CSC_SOURCE_ROOT "/bench/paper.py", (char *)NULL);
	fprintf(stderr, "compsc: bench: cannot run python3 %s/bench/paper.py: %s\n", CSC_SOURCE_ROOT, strerror(errno));
	return 1;
}

/* One screen a person reads; --json gives the control socket's answer. */
static void print_status(const char *vm, json_t *r)
{
	json_t *mig = json_object_get(r, "migration");
	size_t i;
	json_t *d;

	printf("VM %s (pid %lld): %s, %lld MiB RAM, %lld vCPU%s\n", vm,
	       (long long)json_integer_value(json_object_get(r, "pid")),
	       json_string_value(json_object_get(r, "state")) ?: "?",
	       (long long)(json_integer_value(json_object_get(r, "ram-bytes")) >> 20),
	       (long long)json_integer_value(json_object_get(r, "vcpus")),
	       json_integer_value(json_object_get(r, "vcpus")) == 1 ? "" : "s");
	printf("devices:");
	json_array_foreach(json_object_get(r, "devices"), i, d)
		printf(" %s (state v%lld)", json_string_value(json_object_get(d, "name")) ?: "?",
		       (long long)json_integer_value(json_object_get(d, "version")));
	printf("\nmigration: %s", json_string_value(json_object_get(mig, "status")) ?: "none");
	const char *stage = json_string_value(json_object_get(mig, "stage"));
	if (stage && strcmp(stage, "none"))
		printf(", stage %s", stage);
	printf("\n");
	if (strcmp(json_string_value(json_object_get(r, "state")) ?: "", "outcome-unknown") == 0)
		printf("the VM is paused: COMMIT was sent, the destination never confirmed; resolve with\n"
		       "compsc migrate-resolve %s resume-here|destination-running\n", vm);
}

int main(int argc, char **argv)
{
	static struct conn c;
	bool eof;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		const struct subcommand *sc = argc > 2 ? find_subcommand(argv[2]) : NULL;
		print_usage(argc < 2 ? stderr : stdout, sc);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	current = find_subcommand(cmd);
	if (!current)
		return usage_error("unknown subcommand '%s'", cmd);
	/* --help anywhere after the subcommand: its usage, and nothing else
	 * (never taken for a socket path). */
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			print_usage(stdout, current);
			return 0;
		}
	}
	if (strcmp(cmd, "bench") == 0)
		return do_bench(argc - 2, argv + 2);
	if (argc < 3 || argv[2][0] == '-')
		return usage_error("%s", "the VM's control socket path comes first");
	const char *vm = argv[2];
	json_t *mig_args = json_object();
	struct mig_watch mig_w = { .tty = isatty(2) };
	struct mig_method mm = { .method = "compsc", .hp_timeout_ms = 5000 };
	bool hotplug = strncmp(cmd, "device-", 7) == 0;
	int ret;
	if (strcmp(cmd, "migrate") == 0 && (ret = parse_migrate_args(argc - 3, argv + 3, mig_args, &mig_w, &mm)))
		return ret;
	if (hotplug && (ret = do_hotplug(NULL, cmd, argc - 3, argv + 3)))
		return ret;
	if (strcmp(cmd, "migrate-resolve") == 0 && (ret = parse_resolve_args(argc - 3, argv + 3)))
		return ret;
	if (conn_open(&c, vm) < 0)
		return 1;
	json_t *greeting = conn_next(&c, 5000, &eof);
	if (!greeting || !json_object_get(greeting, "greeting")) {
		fprintf(stderr, "compsc: %s is not a compsc-vmm control socket\n", vm);
		return 1;
	}
	json_decref(greeting);
	if (strcmp(cmd, "migrate") == 0) {
		ret = do_migrate(vm, &c, mig_args, &mig_w, &mm);
		json_decref(mig_args);
		return ret;
	}
	if (hotplug)
		return do_hotplug(&c, cmd, argc - 3, argv + 3);
	if (strcmp(cmd, "migrate-resolve") == 0)
		return do_resolve(&c, argv[3]);
	if (argc == 4 && strcmp(cmd, "status") == 0 && strcmp(argv[3], "--json") == 0)
		json_json = true;
	else if (argc != 3)
		return usage_error("unexpected argument '%s'", argv[3]);
	const char *exec = strcmp(cmd, "cancel") == 0 ? "migrate-cancel" : cmd;
	json_t *rep = command(&c, json_pack("{s:s}", "execute", exec), NULL, NULL);
	if (!rep || json_object_get(rep, "error")) {
		fprintf(stderr, "compsc: %s: %s\n", cmd, error_desc(rep));
		return 1;
	}
	if (strcmp(cmd, "status") == 0) {
		json_t *r = json_object_get(rep, "return");
		if (json_json) {
			char *t = json_dumps(r, JSON_INDENT(2));
			printf("%s\n", t);
			free(t);
		} else {
			print_status(vm, r);
		}
	}
	json_decref(rep);
	return 0;
}
