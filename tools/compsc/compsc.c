/* compsc: the command line for CompSC VMs.
 *
 *   compsc status VM [--json]
 *   compsc migrate VM --to tcp:HOST:PORT [--downtime-ms N] [--bandwidth B]
 *                     [--max-rounds N] [--max-precopy-ms N] [--timeout-ms N] [--json]
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
	  "  --json               print the final report as JSON\n"
	  "Exit status 0 when the destination runs the VM, 1 when the migration failed (the VM\n"
	  "runs here), 3 when the outcome is unknown: COMMIT was sent and the destination never\n"
	  "confirmed; the VM waits here, paused, for compsc migrate-resolve.\n" },
	{ "cancel", "compsc cancel VM", "Cancels the VM's outgoing migration; the VM keeps running here.\n" },
	{ "migrate-resolve", "compsc migrate-resolve VM resume-here|destination-running",
	  "Ends a migration whose outcome is unknown (compsc migrate exited with status 3;\n"
	  "compsc status shows outcome-unknown). Find out first whether the destination runs\n"
	  "the VM: exactly one side may.\n"
	  "  destination-running  it does: the source VMM lets go of the VM and exits\n"
	  "  resume-here          it does not, and never will (its VMM is gone or stopped):\n"
	  "                       the VM resumes here, its devices (a VF) working again\n" },
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
	if (json_object_get(p, "downtime-ms"))
		printf("  downtime        %.1f ms (source pause -> destination resume)\n", num(p, "downtime-ms"));
	else
		printf("  downtime        unknown\n");
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

/* migrate's options, checked before anything connects: returns 0 with the
 * command's arguments, or the usage-error status. */
static int parse_migrate_args(int argc, char **argv, json_t *args, struct mig_watch *w)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			w->json = true;
			continue;
		}
		if (strcmp(a, "--to") && strcmp(a, "--bandwidth") && strcmp(a, "--downtime-ms") &&
		    strcmp(a, "--max-rounds") && strcmp(a, "--max-precopy-ms") && strcmp(a, "--timeout-ms"))
			return usage_error("unknown option '%s'", a);
		if (i + 1 >= argc)
			return usage_error("option %s needs a value", a);
		const char *v = argv[++i];
		char *end;
		if (strcmp(a, "--to") == 0) {
			json_object_set_new(args, "uri", json_string(v));
		} else if (strcmp(a, "--bandwidth") == 0) {
			json_object_set_new(args, "bandwidth", json_string(v));
		} else {
			long long n = strtoll(v, &end, 10);
			if (*end || end == v || n < 0)
				return usage_error("'%s' is not a number of milliseconds or rounds", v);
			json_object_set_new(args, a + 2, json_integer(n));
		}
	}
	if (!json_object_get(args, "uri"))
		return usage_error("%s", "--to tcp:HOST:PORT is required");
	return 0;
}

static int do_migrate(const char *vm, struct conn *c, json_t *args, struct mig_watch *wp)
{
	struct mig_watch w = *wp;

	json_t *rep = command(c, json_pack("{s:s,s:o}", "execute", "migrate", "arguments", args), on_mig_event, &w);
	if (!rep || json_object_get(rep, "error")) {
		fprintf(stderr, "compsc: migrate: %s\n", error_desc(rep));
		json_decref(rep);
		return 1;
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
	if (!w.final) {
		fprintf(stderr, "compsc: the source VMM closed the connection before the migration ended\n");
		return 1;
	}
	const char *st = json_string_value(json_object_get(w.final, "status"));
	bool unknown = strcmp(st, "outcome-unknown") == 0;
	if (w.json) {
		char *t = json_dumps(w.final, JSON_INDENT(2));
		printf("%s\n", t);
		free(t);
	} else if (unknown) {
		report_unknown(vm, w.final);
	} else {
		report(w.final);
	}
	if (unknown)
		fprintf(stderr, "compsc: migrate: outcome unknown: resolve it with compsc migrate-resolve %s "
			"resume-here|destination-running\n", vm);
	int ret = strcmp(st, "completed") == 0 ? 0 : unknown ? 3 : 1;
	json_decref(w.final);
	return ret;
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

static bool json_json;	/* status --json */

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
	if (argc < 3 || argv[2][0] == '-')
		return usage_error("%s", "the VM's control socket path comes first");
	const char *vm = argv[2];
	json_t *mig_args = json_object();
	struct mig_watch mig_w = { .tty = isatty(2) };
	int ret;
	if (strcmp(cmd, "migrate") == 0 && (ret = parse_migrate_args(argc - 3, argv + 3, mig_args, &mig_w)))
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
	if (strcmp(cmd, "migrate") == 0)
		return do_migrate(vm, &c, mig_args, &mig_w);
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
