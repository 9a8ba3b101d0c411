/* The migration engine: the lifecycle of struct migration and the public
 * API (mig_init, mig_destroy, mig_start_outgoing, mig_cancel,
 * mig_listen_incoming, mig_get_progress), the stage table, URI parsing,
 * progress publication and failure recording, the notification of the
 * main thread, and the socket helpers every stage uses.
 *
 * Why apart from the stages: this is the only part the main thread runs
 * (besides the destination's activation), so it is where the locking
 * between the main thread and the migration thread lives (internal.h). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "../vm.h"

/* ---- stages as data: names and the allowed moves ------------------------------- */

static const char *const stage_names[MIG_STAGE_COUNT] = {
	[MIG_STAGE_NONE] = "none",
	[MIG_STAGE_PRE_MIGRATION] = "pre-migration",
	[MIG_STAGE_RESERVATION] = "reservation",
	[MIG_STAGE_PRECOPY] = "iterative-pre-copy",
	[MIG_STAGE_STOP_AND_COPY] = "stop-and-copy",
	[MIG_STAGE_COMMITMENT] = "commitment",
	[MIG_STAGE_ACTIVATION] = "activation",
};

/* The only forward moves; failure is a status, not a stage. */
static const uint32_t stage_next[MIG_STAGE_COUNT] = {
	[MIG_STAGE_NONE] = MIG_BIT(MIG_STAGE_PRE_MIGRATION),
	[MIG_STAGE_PRE_MIGRATION] = MIG_BIT(MIG_STAGE_RESERVATION),
	[MIG_STAGE_RESERVATION] = MIG_BIT(MIG_STAGE_PRECOPY),
	[MIG_STAGE_PRECOPY] = MIG_BIT(MIG_STAGE_STOP_AND_COPY),
	[MIG_STAGE_STOP_AND_COPY] = MIG_BIT(MIG_STAGE_COMMITMENT),
	[MIG_STAGE_COMMITMENT] = MIG_BIT(MIG_STAGE_ACTIVATION),
	[MIG_STAGE_ACTIVATION] = 0,
};


const char *mig_stage_name(enum mig_stage s)
{
	return s < MIG_STAGE_COUNT ? stage_names[s] : "?";
}

int mig_stage_parse(const char *name)
{
	for (int i = 1; i < MIG_STAGE_COUNT; i++)
		if (strcmp(stage_names[i], name) == 0)
			return i;
	return -1;
}

const char *mig_status_name(enum mig_status s)
{
	static const char *const names[] = { "none", "listening", "active", "completed", "failed", "cancelled",
					     "outcome-unknown" };
	return s <= MIG_STATUS_OUTCOME_UNKNOWN ? names[s] : "?";
}

static const char *const resolution_names[] = {
	[MIG_RESOLUTION_NONE] = "none",
	[MIG_RESOLUTION_RESUME_HERE] = "resume-here",
	[MIG_RESOLUTION_DESTINATION_RUNNING] = "destination-running",
};

const char *mig_resolution_name(enum mig_resolution r)
{
	return r <= MIG_RESOLUTION_DESTINATION_RUNNING ? resolution_names[r] : "?";
}

int mig_resolution_parse(const char *name)
{
	for (int i = MIG_RESOLUTION_RESUME_HERE; i <= MIG_RESOLUTION_DESTINATION_RUNNING; i++)
		if (strcmp(resolution_names[i], name) == 0)
			return i;
	return -1;
}

void mig_options_default(struct mig_options *o)
{
	*o = (struct mig_options){ .handshake_ms = MIG_HANDSHAKE_MS_DEFAULT,
				   .incoming_timeout_ms = MIG_INCOMING_TIMEOUT_MS_DEFAULT };
}

void mig_params_default(struct mig_params *p)
{
	memset(p, 0, sizeof(*p));
	p->downtime_ms = 300;
	p->max_rounds = 30;
	p->max_precopy_ms = 60000;
	p->timeout_ms = 5000;
}

/* One row per bounded parameter: the check is data, the messages uniform. */
int mig_params_check(const struct mig_params *p, char *err, size_t errlen)
{
	const struct {
		const char *name;
		uint64_t value, min, max;
	} limits[] = {
		{ "max-rounds", p->max_rounds, 0, MIG_MAX_ROUNDS_LIMIT },
		{ "downtime-ms", p->downtime_ms, 0, MIG_DOWNTIME_MS_LIMIT },
		{ "max-precopy-ms", p->max_precopy_ms, 0, MIG_MAX_PRECOPY_MS_LIMIT },
		{ "timeout-ms", p->timeout_ms, MIG_TIMEOUT_MS_MIN, MIG_TIMEOUT_MS_MAX },
		{ "stall-ms", p->stall_ms, 0, MIG_STALL_MS_LIMIT },
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		if (limits[i].value > limits[i].max) {
			snprintf(err, errlen, "%s must be at most %" PRIu64, limits[i].name, limits[i].max);
			return -EINVAL;
		}
		if (limits[i].value < limits[i].min) {
			snprintf(err, errlen, "%s must be at least %" PRIu64, limits[i].name, limits[i].min);
			return -EINVAL;
		}
	}
	if (p->bandwidth && p->bandwidth < MIG_BANDWIDTH_MIN) {
		snprintf(err, errlen, "bandwidth must be 0 (unlimited) or at least %u bytes/s", MIG_BANDWIDTH_MIN);
		return -EINVAL;
	}
	if ((unsigned)p->stall_stage >= MIG_STAGE_COUNT) {
		snprintf(err, errlen, "stall-stage is not a stage");
		return -EINVAL;
	}
	return 0;
}

int mig_parse_uri(const char *uri, char *host, size_t hostlen, uint16_t *port, char *err, size_t errlen)
{
	const char *colon;
	char *end;

	if (strncmp(uri, "tcp:", 4) != 0 || !(colon = strrchr(uri + 4, ':')) || colon == uri + 4 ||
	    (size_t)(colon - (uri + 4)) >= hostlen) {
		snprintf(err, errlen, "'%s' is not a migration address (use tcp:HOST:PORT)", uri);
		return -EINVAL;
	}
	errno = 0;
	unsigned long v = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || v > 65535) {
		snprintf(err, errlen, "'%s': bad port", uri);
		return -EINVAL;
	}
	memcpy(host, uri + 4, (size_t)(colon - (uri + 4)));
	host[colon - (uri + 4)] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	*port = (uint16_t)v;
	return 0;
}

/* ---- shared by the stages ------------------------------------------------------- */

void mig_notify_main(struct migration *m)
{
	uint64_t one = 1;

	if (write(m->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("migration: notify: %s", strerror(errno));
}

void mig_set_stage(struct migration *m, enum mig_stage s)
{
	uint64_t now = now_ns();

	pthread_mutex_lock(&m->lock);
	if (!(stage_next[m->p.stage] & MIG_BIT(s)))
		log_error("migration: internal: stage %s -> %s is not a transition", mig_stage_name(m->p.stage),
			  mig_stage_name(s));
	if (m->p.stage != MIG_STAGE_NONE)
		m->p.stage_ns[m->p.stage] += now - m->stage_start_ns;
	m->stage_start_ns = now;
	m->p.stage = s;
	pthread_mutex_unlock(&m->lock);
	log_info("migration: %s: stage %s", m->p.source ? "outgoing" : "incoming", mig_stage_name(s));
	mig_notify_main(m);
}

int mig_fail(struct migration *m, int ret, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->lock);
	if (!m->p.error[0]) {
		va_start(ap, fmt);
		vsnprintf(m->p.error, sizeof(m->p.error), fmt, ap);
		va_end(ap);
		m->p.failed_stage = m->p.stage;
	}
	pthread_mutex_unlock(&m->lock);
	return ret < 0 ? ret : -EIO;
}

int mig_check_cancel(struct migration *m)
{
	if (atomic_load(&m->cancel))
		return mig_fail(m, -ECANCELED, "cancelled");
	if (atomic_load(&m->vm->stopping))
		return mig_fail(m, -ECANCELED, "the VM is shutting down");
	return 0;
}

/* Failure injection (tests): sleep at the start of a stage, cancellable. */
int mig_stall(struct migration *m, enum mig_stage s)
{
	if (m->params.stall_stage != s || !m->params.stall_ms)
		return 0;
	log_info("migration: stalling %u ms in %s (failure injection)", m->params.stall_ms, mig_stage_name(s));
	uint64_t end = now_ns() + m->params.stall_ms * 1000000ull;
	while (now_ns() < end) {
		int ret = mig_check_cancel(m);
		if (ret < 0)
			return ret;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}


void mig_set_sock_timeouts(int fd, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Receives a record of `type`; an ERROR or CANCEL from the peer instead
 * fails with the peer's reason. */
int mig_recv_expect(struct migration *m, uint16_t type, struct mig_rec *rec, const char *waiting_for)
{
	char err[300];
	int ret = mig_recv(&m->io, rec, m->rxbuf, MIG_MAX_BODY, err, sizeof(err));

	if (ret < 0) {
		if (atomic_load(&m->cancel))
			return mig_fail(m, -ECANCELED, "cancelled");
		if (ret == -ETIMEDOUT)
			return mig_fail(m, ret, "timed out waiting for %s", waiting_for);
		return mig_fail(m, ret, "while waiting for %s: %s", waiting_for, err);
	}
	if (rec->type == MIG_REC_ERROR || rec->type == MIG_REC_CANCEL) {
		struct mig_verdict v;
		if (mig_parse_verdict(rec->body, rec->len, &v, err, sizeof(err)) < 0)
			return mig_fail(m, -EPROTO, "peer sent a malformed %s: %s", mig_rec_name(rec->type), err);
		if (rec->type == MIG_REC_CANCEL)
			return mig_fail(m, -ECANCELED, "the source cancelled the migration: %s", v.reason);
		return mig_fail(m, v.status ? v.status : -EIO, "the %s failed: %s",
			    m->p.source ? "destination" : "source", v.reason);
	}
	if (rec->type != type)
		return mig_fail(m, -EPROTO, "expected %s, got %s", mig_rec_name(type), mig_rec_name(rec->type));
	return 0;
}

int mig_send_verdict(struct migration *m, uint16_t type, int status, const char *reason)
{
	uint8_t buf[8 + MIG_REASON_LEN];
	struct mig_verdict v = { .status = status };

	snprintf(v.reason, sizeof(v.reason), "%s", reason);
	return mig_send(&m->io, type, buf, mig_encode_verdict(buf, &v));
}


/* ---- main thread: notification, lifecycle, API ---------------------------------- */

static void notified(void *opaque, uint32_t events)
{
	struct migration *m = opaque;
	uint64_t v;

	(void)events;
	if (read(m->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("migration: notify read: %s", strerror(errno));
	if (m->thread_live && atomic_load(&m->thread_done)) {
		pthread_join(m->thread, NULL);
		m->thread_live = false;
		if (!m->p.source && m->ok)
			mig_dest_activate(m);
		if (m->hooks.changed)
			m->hooks.changed(m->hooks.opaque);
		struct mig_progress p;
		mig_get_progress(m->vm, &p);
		if (p.source && p.status == MIG_STATUS_COMPLETED) {
			vm_state_event(m->vm, VM_EV_COMMITTED, NULL, 0);
			fprintf(stderr, "compsc-vmm: migration completed in %.1f ms (downtime %.1f ms, %u rounds, "
				"%.1f MiB sent); the VM now runs at %s\n", (double)(p.end_ns - p.start_ns) / 1e6,
				(double)p.downtime_ns / 1e6, p.n_rounds, (double)p.bytes / 1048576.0, p.peer);
			vm_request_exit(m->vm, 0);
		} else if (p.source && p.status == MIG_STATUS_OUTCOME_UNKNOWN) {
			vm_state_event(m->vm, VM_EV_OUTCOME_UNKNOWN, NULL, 0);
			fprintf(stderr, "compsc-vmm: migration to %s: OUTCOME UNKNOWN: %s. The destination may or may "
				"not be running the VM; it stays paused here, its devices held. Find out which, then "
				"resolve with the control socket's migrate-resolve (compsc migrate-resolve VM "
				"destination-running: this VMM exits; resume-here: only once the destination is "
				"known not to run the VM and never to start it)\n", p.peer, p.error);
		} else if (p.source) {
			vm_state_event(m->vm, VM_EV_MIGRATE_FAILED, NULL, 0);
			fprintf(stderr, "compsc-vmm: migration to %s %s during %s: %s; the VM keeps running here\n",
				p.peer, p.status == MIG_STATUS_CANCELLED ? "cancelled" : "failed",
				mig_stage_name(p.failed_stage), p.error);
		} else if (!m->ok) {
			fprintf(stderr, "compsc-vmm: incoming migration failed during %s: %s\n",
				mig_stage_name(p.failed_stage), p.error);
			vm_request_exit(m->vm, VMM_EXIT_MIGRATION);
		}
		if (m->sock >= 0 && (p.source || !m->ok)) {
			close(m->sock);
			m->sock = -1;
		}
		return;
	}
	if (m->hooks.changed)
		m->hooks.changed(m->hooks.opaque);
}

/* The buffers mig_init allocates, and the struct. */
static void free_migration(struct migration *m)
{
	mig_io_clear_keys(&m->io);
	mig_dma_copies_reset(m);
	free(m->rxbuf);
	free(m->txbuf);
	free(m->bitmap);
	free(m->scratch);
	free(m->touched);
	free(m);
}

int mig_init(struct vm *vm, const char *token, const struct mig_options *opts, const struct mig_hooks *hooks)
{
	struct migration *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->vm = vm;
	snprintf(m->token, sizeof(m->token), "%s", token ? token : "");
	if (opts)
		m->opts = *opts;
	else
		mig_options_default(&m->opts);
	m->plaintext = m->opts.insecure_plaintext;
	if (hooks)
		m->hooks = *hooks;
	m->sock = m->listen_fd = m->test_timer_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->n_words = (vm->n_pages + 63) / 64;
	m->rxbuf = malloc(MIG_MAX_BODY);
	m->txbuf = malloc(MIG_RAM_MAX_PAGES * MIG_PAGE_SIZE);
	m->bitmap = calloc(m->n_words, 8);
	m->scratch = calloc(m->n_words, 8);
	m->touched = calloc(m->n_words, 8);
	m->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->rxbuf || !m->txbuf || !m->bitmap || !m->scratch || !m->touched || m->notify_fd < 0) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = vm->accel->cpuid_summary(vm, &m->cpuid);
	if (ret < 0) {
		log_error("migration: cannot read the vCPU's CPUID: %s", strerror(-ret));
		goto fail;
	}
	ret = evloop_add(&vm->loop, m->notify_fd, EPOLLIN, notified, m);
	if (ret < 0)
		goto fail;
	vm->mig = m;
	return 0;
fail:
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	free_migration(m);
	return ret;
}

void mig_destroy(struct vm *vm)
{
	struct migration *m = vm->mig;

	if (!m)
		return;
	if (m->thread_live) {
		atomic_store(&m->cancel, true);
		pthread_mutex_lock(&m->lock);
		if (m->sock >= 0)
			shutdown(m->sock, SHUT_RDWR);
		if (m->listen_fd >= 0)
			shutdown(m->listen_fd, SHUT_RDWR);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	evloop_remove(&vm->loop, m->notify_fd);
	close(m->notify_fd);
	if (m->test_timer_fd >= 0) {
		evloop_remove(&vm->loop, m->test_timer_fd);
		close(m->test_timer_fd);
	}
	if (m->sock >= 0)
		close(m->sock);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	for (unsigned k = 0; k < MIG_MAX_DEVICES; k++)
		free(m->dev[k].data);
	if (m->vstate)
		vm->accel->state_free(m->vstate);
	free_migration(m);
	vm->mig = NULL;
}

void mig_set_hook_opaque(struct vm *vm, void *opaque)
{
	if (vm->mig)
		vm->mig->hooks.opaque = opaque;
}

bool mig_active(struct vm *vm)
{
	struct migration *m = vm->mig;

	return m && m->thread_live;
}

int mig_start_outgoing(struct vm *vm, const struct mig_params *params, char *err, size_t errlen)
{
	struct migration *m = vm->mig;

	if (!m) {
		snprintf(err, errlen, "migration is not available");
		return -ENOSYS;
	}
	if (m->thread_live || m->p.status == MIG_STATUS_LISTENING) {
		snprintf(err, errlen, "a migration is already in progress");
		return -EBUSY;
	}
	if (vm->mig_blocker) {
		snprintf(err, errlen, "this VM cannot migrate: %s", vm->mig_blocker);
		return -EOPNOTSUPP;
	}
	if (!m->token[0]) {
		snprintf(err, errlen, "no migration secret: start the VMM with --migration-token-file PATH or "
			 "$COMPSC_MIGRATION_TOKEN (the destination needs the same one)");
		return -EACCES;
	}
	int ret = mig_params_check(params, err, errlen);
	if (ret < 0)
		return ret;
	/* The state machine decides whether this VM may start migrating now
	 * (running or paused: yes; incoming, already migrating: no). */
	if ((ret = vm_state_event(vm, VM_EV_MIGRATE, err, errlen)) < 0)
		return ret;
	if (m->sock >= 0) {
		close(m->sock);
		m->sock = -1;
	}
	m->params = *params;
	memset(&m->p, 0, sizeof(m->p));
	m->p.source = true;
	m->p.status = MIG_STATUS_ACTIVE;
	m->p.ram_size = vm->ram_size;
	m->p.start_ns = now_ns();
	snprintf(m->p.peer, sizeof(m->p.peer), "tcp:%s:%u", params->host, params->port);
	m->committed = false;
	m->paused_by_us = false;
	m->records_out = m->pages_total = 0;
	atomic_store(&m->cancel, false);
	atomic_store(&m->thread_done, false);
	mig_io_clear_keys(&m->io);	/* a new handshake, new keys */
	mig_io_fd(&m->io, &m->sock);
	m->bytes_at_start = 0;
	ret = pthread_create(&m->thread, NULL, mig_source_thread, m);
	if (ret) {
		m->p.status = MIG_STATUS_FAILED;
		vm_state_event(vm, VM_EV_MIGRATE_FAILED, NULL, 0);
		snprintf(err, errlen, "cannot start the migration thread: %s", strerror(ret));
		return -ret;
	}
	m->thread_live = true;
	log_info("migration: outgoing to %s started", m->p.peer);
	return 0;
}

int mig_cancel(struct vm *vm, char *err, size_t errlen)
{
	struct migration *m = vm->mig;

	if (m && m->p.source && m->p.status == MIG_STATUS_OUTCOME_UNKNOWN) {
		snprintf(err, errlen, "too late to cancel: COMMIT was sent and the outcome is unknown; resolve it with "
			 "migrate-resolve (outcome resume-here or destination-running)");
		return -EPERM;
	}
	if (!m || !m->thread_live || !m->p.source) {
		snprintf(err, errlen, "no outgoing migration is in progress");
		return -EALREADY;
	}
	pthread_mutex_lock(&m->lock);
	if (m->committed) {
		pthread_mutex_unlock(&m->lock);
		snprintf(err, errlen, "too late: the migration is committed, the destination owns the VM unless it "
			 "refuses (if it does not confirm, resolve with migrate-resolve)");
		return -EPERM;
	}
	atomic_store(&m->cancel, true);
	/* Ends a receive in progress at once (a send ends within the I/O
	 * timeout); the write side stays open so the thread can still tell
	 * the destination with a CANCEL record. */
	if (m->sock >= 0)
		shutdown(m->sock, SHUT_RD);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int mig_resolve(struct vm *vm, enum mig_resolution r, char *err, size_t errlen)
{
	struct migration *m = vm->mig;
	int ret;

	/* The thread has ended (it published the status last): the main
	 * thread owns the migration now. */
	if (!m || !m->p.source || m->thread_live || m->p.status != MIG_STATUS_OUTCOME_UNKNOWN) {
		snprintf(err, errlen, "no migration awaits a resolution: migrate-resolve is for an outgoing migration "
			 "whose outcome is unknown (status outcome-unknown)");
		return -EALREADY;
	}
	if (r != MIG_RESOLUTION_RESUME_HERE && r != MIG_RESOLUTION_DESTINATION_RUNNING) {
		snprintf(err, errlen, "the outcome is resume-here or destination-running");
		return -EINVAL;
	}
	if ((ret = vm_state_event(vm, r == MIG_RESOLUTION_RESUME_HERE ? VM_EV_RESOLVED_HERE : VM_EV_COMMITTED,
				  err, errlen)) < 0)
		return ret;
	if (r == MIG_RESOLUTION_RESUME_HERE)
		mig_source_take_back(m);
	pthread_mutex_lock(&m->lock);
	m->p.resolution = r;
	m->p.status = r == MIG_RESOLUTION_RESUME_HERE ? MIG_STATUS_FAILED : MIG_STATUS_COMPLETED;
	size_t n = strlen(m->p.error);
	if (r == MIG_RESOLUTION_RESUME_HERE)	/* failed: why, and who decided */
		snprintf(m->p.error + n, sizeof(m->p.error) - n, "; resolved by the orchestrator: resume-here");
	else					/* completed: nothing failed */
		m->p.error[0] = '\0';
	pthread_mutex_unlock(&m->lock);
	log_info("migration: outcome resolved by the orchestrator: %s", mig_resolution_name(r));
	if (m->hooks.changed)
		m->hooks.changed(m->hooks.opaque);
	if (r == MIG_RESOLUTION_RESUME_HERE) {
		fprintf(stderr, "compsc-vmm: migration to %s resolved: resume here; the VM runs here again\n", m->p.peer);
	} else {
		fprintf(stderr, "compsc-vmm: migration to %s resolved: the destination runs the VM; this VMM exits\n",
			m->p.peer);
		vm_request_exit(vm, 0);
	}
	return 0;
}

int mig_listen_incoming(struct vm *vm, const char *uri, uint16_t *port_out, char *err, size_t errlen)
{
	struct migration *m = vm->mig;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	char host[256], port[8];
	uint16_t p;
	int ret, fd = -1, one = 1;

	if ((ret = mig_parse_uri(uri, host, sizeof(host), &p, err, errlen)) < 0)
		return ret;
	snprintf(port, sizeof(port), "%u", p);
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "--incoming %s: %s", uri, gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		snprintf(err, errlen, "--incoming %s: %s", uri, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return ret;
	}
	freeaddrinfo(res);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						    : ((struct sockaddr_in *)&ss)->sin_port);
	m->listen_fd = fd;
	memset(&m->p, 0, sizeof(m->p));
	m->p.status = MIG_STATUS_LISTENING;
	m->p.ram_size = vm->ram_size;
	snprintf(m->p.peer, sizeof(m->p.peer), "tcp:%s:%u", host, *port_out);
	mig_io_fd(&m->io, &m->sock);
	/* The dirty log and RAM pages written here: the guest image is not
	 * loaded, so only what the platform wrote at creation is non-zero. */
	mig_ram_mark_touched(m, 0, CSC_RESERVED_END / MIG_PAGE_SIZE);
	ret = pthread_create(&m->thread, NULL, mig_dest_thread, m);
	if (ret) {
		snprintf(err, errlen, "cannot start the migration thread: %s", strerror(ret));
		return -ret;
	}
	m->thread_live = true;
	return 0;
}

void mig_get_progress(struct vm *vm, struct mig_progress *out)
{
	struct migration *m = vm->mig;

	if (!m) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&m->lock);
	*out = m->p;
	if (out->status == MIG_STATUS_ACTIVE && out->stage != MIG_STAGE_NONE) {
		/* Include the time spent so far in the current stage. */
		out->stage_ns[out->stage] += now_ns() - m->stage_start_ns;
	}
	pthread_mutex_unlock(&m->lock);
}

int mig_read_token_file(const char *path, char *buf, size_t size, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: readable or writable by group or others (mode %03o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -EPERM;
	}
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EIO;
	}
	buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (n == 0 || (size_t)n > MIG_TOKEN_MAX || memchr(buf, 0, (size_t)n)) {
		snprintf(err, errlen, "%s: the secret must be 1..%d bytes of text", path, MIG_TOKEN_MAX);
		return -EINVAL;
	}
	return 0;
}
