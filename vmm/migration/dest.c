/* The destination's stages, run on the migration thread (--incoming):
 * accept connections until one authenticates as a source (auth.c; the
 * others are dropped, the listening socket closes behind the one), check
 * and reserve (RAM size, vCPUs, accelerator, CPU features, devices; guest
 * RAM allocated), then
 * receive records until END, each checked against the stages it may
 * arrive in (rx_rules), load everything at commitment and say READY; the
 * main thread activates the VM after COMMIT (mig_dest_activate) and
 * confirms with ACTIVATED. Without COMMIT the VM never runs here; with it,
 * it runs here even if ACTIVATED cannot be delivered (the source then
 * waits for the orchestrator: docs/migration-stream.md, "Commitment and
 * confirm"), unless this side refuses with an ERROR before running it.
 *
 * Everything the source sends is hostile until checked: the stream layer
 * checks framing and bodies, this file checks order, completeness and
 * that each piece belongs to this VM. A failure is reported to the source
 * with an ERROR record, and the VMM exits (the VM being received never
 * ran). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../vm.h"

/* Failure injection in the commit window, for the integration tests:
 * COMPSC_TEST_FAULT in the environment, honoured only by builds with
 * -Dtest_faults=true (meson_options.txt; the default, production builds
 * turn it off). */
enum dst_test_fault {
	DST_FAULT_NONE,
	DST_FAULT_DIE_AFTER_COMMIT,	/* SIGKILL the moment COMMIT is in: the VM never runs */
	DST_FAULT_REFUSE_AFTER_COMMIT,	/* answer COMMIT with ERROR, do not run the VM */
	DST_FAULT_DROP_ACTIVATED,	/* run the VM, cut the connection instead of ACTIVATED */
	DST_FAULT_DELAY_ACTIVATED,	/* run the VM, hold ACTIVATED 1.5 s: a window for faults
					 * in the confirm stage (bench/faults.py) */
};

static enum dst_test_fault read_test_fault(void)
{
	static const char *const names[] = {
		[DST_FAULT_DIE_AFTER_COMMIT] = "die-after-commit",
		[DST_FAULT_REFUSE_AFTER_COMMIT] = "refuse-after-commit",
		[DST_FAULT_DROP_ACTIVATED] = "drop-activated",
		[DST_FAULT_DELAY_ACTIVATED] = "delay-activated",
	};
	const char *v = getenv("COMPSC_TEST_FAULT");

	if (!v || !v[0])
		return DST_FAULT_NONE;
#ifdef CSC_TEST_FAULTS
	for (int i = DST_FAULT_DIE_AFTER_COMMIT; i <= DST_FAULT_DELAY_ACTIVATED; i++) {
		if (strcmp(v, names[i]) == 0) {
			log_warn("migration: failure injection: COMPSC_TEST_FAULT=%s", v);
			return (enum dst_test_fault)i;
		}
	}
	log_warn("migration: COMPSC_TEST_FAULT=%s is not a fault this VMM knows: ignored", v);
#else
	(void)names;
	log_warn("migration: COMPSC_TEST_FAULT=%s ignored: this build has no failure injection", v);
#endif
	return DST_FAULT_NONE;
}

/* The stages in which each source record may arrive (after the
 * handshake). A record outside its stages fails the migration. */
#define PRECOPY_ON (MIG_BIT(MIG_STAGE_PRECOPY) | MIG_BIT(MIG_STAGE_STOP_AND_COPY))
static const struct {
	uint16_t type;
	uint32_t stages;
} rx_rules[] = {
	{ MIG_REC_ROUND, MIG_BIT(MIG_STAGE_RESERVATION) | PRECOPY_ON },
	{ MIG_REC_RAM, PRECOPY_ON },
	{ MIG_REC_SYNC, MIG_BIT(MIG_STAGE_PRECOPY) },
	{ MIG_REC_CPU_MP_STATE, PRECOPY_ON },
	{ MIG_REC_CPU_REGS, PRECOPY_ON },
	{ MIG_REC_CPU_SREGS, PRECOPY_ON },
	{ MIG_REC_CPU_XSAVE, PRECOPY_ON },
	{ MIG_REC_CPU_XCRS, PRECOPY_ON },
	{ MIG_REC_CPU_DEBUGREGS, PRECOPY_ON },
	{ MIG_REC_CPU_LAPIC, PRECOPY_ON },
	{ MIG_REC_CPU_MSRS, PRECOPY_ON },
	{ MIG_REC_CPU_EVENTS, PRECOPY_ON },
	{ MIG_REC_VM_CLOCK, PRECOPY_ON },
	{ MIG_REC_VM_IRQCHIP, PRECOPY_ON },
	{ MIG_REC_PROC_VCPU, PRECOPY_ON },
	{ MIG_REC_DEVICE, PRECOPY_ON },
	{ MIG_REC_END, MIG_BIT(MIG_STAGE_STOP_AND_COPY) },
};

static int dst_device(struct migration *m, const struct mig_rec *rec)
{
	struct mig_device_rec d;
	char err[300];
	int ret = mig_parse_device(rec->body, rec->len, &d, err, sizeof(err));

	if (ret < 0)
		return mig_fail(m, ret, "bad stream: %s", err);
	int k = device_registry_find(&m->vm->devices, d.d.name);
	if (k < 0 || !device_migrates(&m->vm->devices.dev[k]))
		return mig_fail(m, -ENODEV, "bad stream: state for device '%s', which this VM does not have", d.d.name);
	if (m->dev[k].have)
		return mig_fail(m, -EPROTO, "bad stream: device '%s' state sent twice", d.d.name);
	if (d.len > DEV_STATE_MAX)
		return mig_fail(m, -EPROTO, "bad stream: device '%s' state of %u bytes", d.d.name, d.len);
	m->dev[k].data = malloc(d.len ? d.len : 1);
	if (!m->dev[k].data)
		return mig_fail(m, -ENOMEM, "out of memory");
	memcpy(m->dev[k].data, d.data, d.len);
	m->dev[k].len = d.len;
	m->dev[k].version = d.d.version;
	m->dev[k].have = true;
	return 0;
}
/* Takes the "vcpu-ACCEL" entry out of the source's device list and checks
 * it names this VMM's accelerator: vCPU state cannot move between KVM and
 * a sandboxed process. A source that names none is a KVM source from
 * before the proc accelerator existed. */
static int take_accel_entry(struct mig_reserve *r, const char *mine, char *err, size_t errlen)
{
	const char *theirs = "kvm";
	size_t plen = strlen(MIG_VCPU_DEV_PREFIX);

	for (uint32_t i = 0; i < r->n_devices; i++) {
		if (strncmp(r->dev[i].name, MIG_VCPU_DEV_PREFIX, plen) != 0)
			continue;
		theirs = r->dev[i].name + plen;
		if (strcmp(theirs, mine) != 0)
			break;
		r->dev[i] = r->dev[--r->n_devices];
		return 0;
	}
	if (strcmp(theirs, mine) == 0)
		return 0;
	snprintf(err, errlen, "the source runs its guest under the %s accelerator and this VMM under %s: "
		 "a VM cannot move between accelerators", theirs, mine);
	return -EPROTO;
}

static int dst_reservation(struct migration *m)
{
	struct vm *vm = m->vm;
	struct mig_reserve r;
	struct mig_rec rec;
	char err[300] = "";
	int ret;

	mig_set_stage(m, MIG_STAGE_RESERVATION);
	if ((ret = mig_recv_expect(m, MIG_REC_RESERVE, &rec, "RESERVE")) < 0)
		return ret;
	if ((ret = mig_parse_reserve(rec.body, rec.len, &r, err, sizeof(err))) < 0) {
		mig_fail(m, ret, "bad stream: %s", err);
	} else if (r.ram_size != vm->ram_size) {
		ret = mig_fail(m, -EINVAL, "memory size differs: source %" PRIu64 " MiB, destination %" PRIu64 " MiB",
			   r.ram_size >> 20, vm->ram_size >> 20);
	} else if (r.n_vcpus != vm->n_vcpus) {
		ret = mig_fail(m, -EINVAL, "vCPU count differs: source %u, destination %u", r.n_vcpus, vm->n_vcpus);
	} else if ((ret = take_accel_entry(&r, vm->accel->name, err, sizeof(err))) < 0) {
		mig_fail(m, ret, "%s", err);
	} else if ((ret = mig_cpuid_check(&r.cpuid, &m->cpuid, err, sizeof(err))) < 0) {
		mig_fail(m, ret, "incompatible source: %s", err);
	} else if ((ret = device_registry_check(&vm->devices, &r, err, sizeof(err))) < 0) {
		mig_fail(m, ret, "%s", err);
	} else if (fallocate(vm->ram_fd, 0, 0, (off_t)vm->ram_size) < 0) {
		/* Reserve the memory now, so a full host fails here and not
		 * with SIGBUS halfway through the copy. */
		ret = mig_fail(m, -errno, "cannot allocate %" PRIu64 " MiB of guest memory: %s", vm->ram_size >> 20,
			   strerror(errno));
	} else if (!(m->vstate = vm->accel->state_new(vm))) {
		ret = mig_fail(m, -ENOMEM, "out of memory");
	}
	if (ret < 0) {
		pthread_mutex_lock(&m->lock);
		snprintf(err, sizeof(err), "%.299s", m->p.error);
		pthread_mutex_unlock(&m->lock);
		mig_send_verdict(m, MIG_REC_RESERVE_ACK, ret, err);
		return ret;
	}
	/* A successful verdict's reason lists the optional features this
	 * side speaks; a source that knows none ignores it. */
	ret = mig_send_verdict(m, MIG_REC_RESERVE_ACK, 0,
			       MIG_FEATURES_PREFIX MIG_FEATURE_SYNC " " MIG_FEATURE_LATE);
	return ret < 0 ? mig_fail(m, ret, "sending RESERVE_ACK: %s", strerror(-ret)) : 0;
}

static bool rx_allowed(uint16_t type, enum mig_stage stage)
{
	for (size_t i = 0; i < sizeof(rx_rules) / sizeof(rx_rules[0]); i++)
		if (rx_rules[i].type == type)
			return rx_rules[i].stages & MIG_BIT(stage);
	return false;
}

static int dst_receive(struct migration *m)
{
	struct mig_rec rec;
	char err[300];
	int ret;

	for (;;) {
		/* Into the writer's next free slot: a RAM record is queued
		 * where it was received, without another copy. */
		ret = mig_recv(&m->io, &rec, mig_ram_rx_buffer(m), MIG_MAX_BODY, err, sizeof(err));
		if (ret < 0) {
			if (ret == -EPIPE)
				return mig_fail(m, ret, "the source closed the connection before the end of the stream");
			return mig_fail(m, ret, "bad stream: %s", err);
		}
		pthread_mutex_lock(&m->lock);
		m->p.bytes = m->io.bytes_in;
		m->p.pages = m->pages_total;
		pthread_mutex_unlock(&m->lock);
		if (rec.type == MIG_REC_CANCEL || rec.type == MIG_REC_ERROR) {
			struct mig_verdict v;
			if (mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err)) < 0)
				return mig_fail(m, -EPROTO, "bad stream: %s", err);
			if (rec.type == MIG_REC_CANCEL)
				return mig_fail(m, -ECANCELED, "the source cancelled the migration (%s)", v.reason);
			return mig_fail(m, -EIO, "the source failed: %s", v.reason);
		}
		if (!rx_allowed(rec.type, m->p.stage))
			return mig_fail(m, -EPROTO, "bad stream: record %s not allowed in stage %s", mig_rec_name(rec.type),
				    mig_stage_name(m->p.stage));
		switch (rec.type) {
		case MIG_REC_ROUND: {
			if (rec.len != 4)
				return mig_fail(m, -EPROTO, "bad stream: ROUND record of %u bytes", rec.len);
			uint32_t round = mig_get32(rec.body);
			if (m->rx_round_seen ? round != m->rx_round + 1 : round != 0)
				return mig_fail(m, -EPROTO, "bad stream: round %u after round %u", round, m->rx_round);
			m->rx_round = round;
			m->rx_round_seen = true;
			if (m->p.stage == MIG_STAGE_RESERVATION)
				mig_set_stage(m, MIG_STAGE_PRECOPY);
			pthread_mutex_lock(&m->lock);
			m->p.round = round;
			pthread_mutex_unlock(&m->lock);
			break;
		}
		case MIG_REC_RAM:
			if ((ret = mig_ram_receive(m, &rec)) < 0)
				return ret;
			break;
		case MIG_REC_SYNC:
			/* The source's round timer stops at our echo: it goes
			 * once every page before it is in guest memory. */
			if (rec.len != 4 || mig_get32(rec.body) != m->rx_round)
				return mig_fail(m, -EPROTO, "bad stream: SYNC for round %u in round %u",
						rec.len == 4 ? mig_get32(rec.body) : 0, m->rx_round);
			if ((ret = mig_ram_rx_drain(m)) < 0)
				return ret;
			if ((ret = mig_send(&m->io, MIG_REC_SYNC, rec.body, rec.len)) < 0)
				return mig_fail(m, ret, "sending SYNC: %s", strerror(-ret));
			break;
		case MIG_REC_DEVICE:
			if (m->p.stage == MIG_STAGE_PRECOPY)
				mig_set_stage(m, MIG_STAGE_STOP_AND_COPY);
			if ((ret = dst_device(m, &rec)) < 0)
				return ret;
			break;
		case MIG_REC_END:
			if (rec.len != MIG_END_LEN || mig_get64(rec.body) != m->pages_total)
				return mig_fail(m, -EPROTO, "bad stream: END claims %" PRIu64 " pages, %" PRIu64 " received",
					    rec.len == MIG_END_LEN ? mig_get64(rec.body) : 0, m->pages_total);
			return mig_ram_rx_drain(m);
		default: /* the accelerator's vCPU/VM state */
			if (m->p.stage == MIG_STAGE_PRECOPY)
				mig_set_stage(m, MIG_STAGE_STOP_AND_COPY);
			if (!m->vm->accel->state_owns_record(rec.type))
				return mig_fail(m, -EPROTO, "bad stream: %s is vCPU state of another accelerator than "
					    "this VMM's (%s)", mig_rec_name(rec.type), m->vm->accel->name);
			if ((ret = m->vm->accel->state_rx(m->vm, m->vstate, &rec, err, sizeof(err))) < 0)
				return mig_fail(m, ret, "bad stream: %s", err);
			break;
		}
	}
}

static int dst_load(struct migration *m)
{
	struct device_registry *reg = &m->vm->devices;
	char err[300];
	int ret;

	if ((ret = m->vm->accel->state_complete(m->vm, m->vstate, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "bad stream: %s", err);
	for (unsigned k = 0; k < reg->n; k++)
		if (device_migrates(&reg->dev[k]) && !m->dev[k].have)
			return mig_fail(m, -EPROTO, "bad stream: no state for device '%s'", reg->dev[k].name);
	if ((ret = m->vm->accel->state_load(m->vm, m->vstate, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "loading vCPU state: %s", err);
	for (unsigned k = 0; k < reg->n; k++) {
		const struct device_entry *e = &reg->dev[k];
		if (!device_migrates(e))
			continue;
		ret = e->ops->load(e->dev, m->dev[k].version, m->dev[k].data, m->dev[k].len, err, sizeof(err));
		if (ret < 0)
			return mig_fail(m, ret, "device '%s' rejected its state: %s", e->name, err);
	}
	return 0;
}

/* After READY: LATE_DEVICE records (feature "late"), then COMMIT. */
static int dst_await_commit(struct migration *m)
{
	struct mig_rec rec;
	char err[300];
	int ret;

	for (;;) {
		ret = mig_recv(&m->io, &rec, m->rxbuf, MIG_MAX_BODY, err, sizeof(err));
		if (ret < 0)
			return mig_fail(m, ret, ret == -EPIPE ? "the source closed the connection before COMMIT"
							    : "bad stream: %s", err);
		if (rec.type == MIG_REC_COMMIT) {
			m->commit_ns = now_ns();	/* the source's downtime starts its last leg here */
			return 0;
		}
		if (rec.type == MIG_REC_ERROR || rec.type == MIG_REC_CANCEL) {
			struct mig_verdict v;
			if (mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err)) < 0)
				return mig_fail(m, -EPROTO, "bad stream: %s", err);
			if (rec.type == MIG_REC_CANCEL)
				return mig_fail(m, -ECANCELED, "the source cancelled the migration: %s", v.reason);
			return mig_fail(m, v.status ? v.status : -EIO, "the source failed: %s", v.reason);
		}
		if (rec.type != MIG_REC_LATE_DEVICE)
			return mig_fail(m, -EPROTO, "bad stream: %s while waiting for COMMIT", mig_rec_name(rec.type));
		struct mig_device_rec d;
		if ((ret = mig_parse_device(rec.body, rec.len, &d, err, sizeof(err))) < 0)
			return mig_fail(m, ret, "bad stream: %s", err);
		int k = device_registry_find(&m->vm->devices, d.d.name);
		const struct device_ops *ops = k >= 0 ? m->vm->devices.dev[k].ops : NULL;
		if (!ops || !ops->late_load)
			return mig_fail(m, -ENODEV, "bad stream: late state for device '%s', which takes none", d.d.name);
		if ((ret = ops->late_load(m->vm->devices.dev[k].dev, d.data, d.len, err, sizeof(err))) < 0)
			return mig_fail(m, ret, "device '%s' rejected its late state: %s", d.d.name, err);
	}
}

/* Waits for a connection until the overall deadline (0: none). Returns
 * the socket, or -ETIMEDOUT, or -errno. */
static int accept_until(struct migration *m, uint64_t deadline_ns)
{
	for (;;) {
		int wait_ms = -1;
		if (deadline_ns) {
			uint64_t now = now_ns();
			if (now >= deadline_ns)
				return -ETIMEDOUT;
			uint64_t left = (deadline_ns - now + 999999) / 1000000;
			wait_ms = left > 60000 ? 60000 : (int)left;
		}
		/* Non-blocking: a peer that resets between poll and accept
		 * must not leave this thread in accept past the deadline
		 * (the accepted socket does not inherit it). */
		fcntl(m->listen_fd, F_SETFL, fcntl(m->listen_fd, F_GETFL) | O_NONBLOCK);
		struct pollfd pfd = { .fd = m->listen_fd, .events = POLLIN };
		int n = poll(&pfd, 1, wait_ms);
		if (atomic_load(&m->cancel))
			return -ECANCELED;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -ECANCELED;	/* shut down by mig_destroy */
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
	}
}

static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(buf, len, "%s:%u", host, port);
}

/* Accepts connections until one authenticates as a source: that one is
 * the migration, and the listening socket closes behind it (no second
 * source, ever). Anything else - junk, a wrong token, a mismatched
 * --insecure-plaintext, a peer that does not finish the handshake within
 * handshake_ms however slowly it trickles - is an unauthenticated peer:
 * its connection is logged and dropped, and the VMM keeps listening until
 * its own deadline (incoming_timeout_ms from the start). The handshake
 * runs in stage none with the status still "listening": a dropped peer
 * never started a migration. */
static int dst_accept_source(struct migration *m)
{
	uint64_t t0 = now_ns();
	uint64_t deadline = m->opts.incoming_timeout_ms ? t0 + m->opts.incoming_timeout_ms * 1000000ull : 0;
	unsigned dropped = 0;
	char peer[INET6_ADDRSTRLEN + 8];

	for (;;) {
		int fd = accept_until(m, deadline);
		if (fd == -ETIMEDOUT) {
			mig_set_stage(m, MIG_STAGE_PRE_MIGRATION);
			return mig_fail(m, -ETIMEDOUT, "no source authenticated within %" PRIu64 " ms "
					"(--incoming-timeout-ms; %u connection%s dropped)", m->opts.incoming_timeout_ms,
					dropped, dropped == 1 ? "" : "s");
		}
		if (fd < 0)
			return mig_fail(m, fd, "accept: %s", strerror(-fd));
		uint64_t accepted = now_ns();
		peer_name(fd, peer, sizeof(peer));
		pthread_mutex_lock(&m->lock);
		m->sock = fd;	/* published: mig_destroy shuts it down */
		pthread_mutex_unlock(&m->lock);
		mig_set_sock_timeouts(fd, m->opts.handshake_ms);
		mig_io_fd(&m->io, &m->sock);
		m->io.read_deadline_ns = accepted + m->opts.handshake_ms * 1000000ull;
		log_info("migration: incoming: connection from %s", peer);
		int ret = mig_auth_dest(m);
		m->io.read_deadline_ns = 0;
		if (ret == 0) {
			pthread_mutex_lock(&m->lock);
			m->p.status = MIG_STATUS_ACTIVE;
			m->p.start_ns = accepted;
			int lfd = m->listen_fd;
			m->listen_fd = -1;
			pthread_mutex_unlock(&m->lock);
			close(lfd);
			mig_set_sock_timeouts(fd, DEST_IO_TIMEOUT_MS);
			log_info("migration: incoming: source %s authenticated (%s)", peer,
				 m->plaintext ? "records in plaintext: --insecure-plaintext" : "records sealed with AES-256-GCM");
			mig_set_stage(m, MIG_STAGE_PRE_MIGRATION);
			return 0;
		}
		pthread_mutex_lock(&m->lock);
		if (!atomic_load(&m->cancel))
			log_warn("migration: incoming: dropped the connection from %s: %s%s; still listening", peer,
				 m->p.error, ret == -ETIMEDOUT ? " (handshake deadline, --migration-handshake-ms)" : "");
		m->p.error[0] = '\0';
		m->sock = -1;
		pthread_mutex_unlock(&m->lock);
		mig_io_clear_keys(&m->io);
		close(fd);
		dropped++;
		if (atomic_load(&m->cancel))
			return mig_fail(m, -ECANCELED, "cancelled");
	}
}

void *mig_dest_thread(void *arg)
{
	struct migration *m = arg;
	int ret;

	m->test_fault = read_test_fault();
	ret = dst_accept_source(m);
	if (ret < 0)
		goto out;
	log_info("migration: incoming: source connected");

	ret = dst_reservation(m);
	if (ret == 0 && (ret = mig_ram_rx_start(m)) == 0) {
		ret = dst_receive(m);
		mig_ram_rx_stop(m);
	}
	if (ret == 0) {
		mig_set_stage(m, MIG_STAGE_COMMITMENT);
		uint64_t t0 = now_ns();
		ret = dst_load(m);
		pthread_mutex_lock(&m->lock);
		m->p.load_ns = now_ns() - t0;
		pthread_mutex_unlock(&m->lock);
		if (ret == 0 && (ret = mig_send_verdict(m, MIG_REC_READY, 0, "")) < 0)
			mig_fail(m, ret, "sending READY: %s", strerror(-ret));
		if (ret == 0)
			ret = dst_await_commit(m);
		if (ret == 0 && m->test_fault == DST_FAULT_DIE_AFTER_COMMIT) {
			log_warn("migration: failure injection: killed right after COMMIT, before running the VM");
			kill(getpid(), SIGKILL);
		}
	}
	if (ret < 0 && m->sock >= 0) {
		/* Tell the source why, then let it read that before the close
		 * (an unread receive queue would turn the close into a reset
		 * that may destroy the message). */
		mig_set_sock_timeouts(m->sock, 1000);
		mig_send_verdict(m, MIG_REC_ERROR, ret, m->p.error);
		shutdown(m->sock, SHUT_WR);
		uint64_t end = now_ns() + 1000000000ull;
		while (now_ns() < end && recv(m->sock, m->rxbuf, MIG_MAX_BODY, 0) > 0)
			;
	}
out:
	m->ok = ret == 0;
	if (ret < 0) {
		pthread_mutex_lock(&m->lock);
		m->p.status = MIG_STATUS_FAILED;
		m->p.end_ns = now_ns();
		pthread_mutex_unlock(&m->lock);
	}
	atomic_store(&m->thread_done, true);
	mig_notify_main(m);
	return NULL;
}

/* Main thread, after COMMIT: this side refuses to run the VM (it is
 * stopping, or failure injection). The VM has not run: the ERROR tells the
 * source it may take the VM back; the VMM exits as after any failed
 * incoming migration. */
static void dest_refuse(struct migration *m, const char *why)
{
	mig_fail(m, -ECANCELED, "refused to run the VM after COMMIT: %s", why);
	mig_set_sock_timeouts(m->sock, 1000);
	mig_send_verdict(m, MIG_REC_ERROR, -ECANCELED, m->p.error);
	shutdown(m->sock, SHUT_WR);
	pthread_mutex_lock(&m->lock);
	m->p.status = MIG_STATUS_FAILED;
	m->p.end_ns = now_ns();
	pthread_mutex_unlock(&m->lock);
	fprintf(stderr, "compsc-vmm: incoming migration failed during %s: %s\n", mig_stage_name(m->p.failed_stage),
		m->p.error);
	vm_request_exit(m->vm, VMM_EXIT_MIGRATION);
}

/* The destination runs the VM: tell the source (main thread). */
static void send_activated(struct migration *m)
{
	mig_set_sock_timeouts(m->sock, 1000);
	/* Two intervals of our own clock, so the source can bound the downtime
	 * without reading our clock (src_downtime): COMMIT received -> vCPUs
	 * started, and vCPUs started -> now (ACTIVATED leaves), in us, each
	 * saturated at 32 bits. Taken last: time spent here after it counts
	 * as the way back, widening the source's bounds. */
	uint64_t resume = mig_get64(m->activated);
	uint64_t d1 = (resume - m->commit_ns) / 1000, d2 = (now_ns() - resume) / 1000;
	mig_put64(m->activated + 16, (d1 > UINT32_MAX ? UINT32_MAX : d1) | (d2 > UINT32_MAX ? UINT32_MAX : d2) << 32);
	if (m->test_fault == DST_FAULT_DROP_ACTIVATED) {
		log_warn("migration: failure injection: the VM runs, the connection is cut instead of ACTIVATED");
		shutdown(m->sock, SHUT_RDWR);
	} else if (mig_send(&m->io, MIG_REC_ACTIVATED, m->activated, sizeof(m->activated)) < 0) {
		/* We run the VM all the same: after COMMIT the source never
		 * resumes unless we refuse or its orchestrator says so. */
		log_warn("migration: could not confirm activation to the source: its outcome is unknown until "
			 "its orchestrator resolves it (destination-running)");
	}
	fprintf(stderr, "compsc-vmm: incoming migration complete: the VM runs here (%" PRIu64 " pages received, "
		"state loaded in %.1f ms)\n", m->pages_total, (double)m->p.load_ns / 1e6);
}

static void activated_due(void *opaque, uint32_t events)
{
	struct migration *m = opaque;

	(void)events;
	evloop_remove(&m->vm->loop, m->test_timer_fd);
	close(m->test_timer_fd);
	m->test_timer_fd = -1;
	send_activated(m);
}

/* delay-activated: ACTIVATED leaves 1.5 s after the VM runs, from a timer
 * of the main loop (which keeps serving the control socket meanwhile). */
static int delay_activated(struct migration *m)
{
	struct itimerspec its = { .it_value = { 1, 500000000 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0 || evloop_add(&m->vm->loop, fd, EPOLLIN, activated_due, m) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	m->test_timer_fd = fd;
	log_warn("migration: failure injection: the VM runs, ACTIVATED waits 1.5 s");
	return 0;
}

/* Main thread, after the migration thread has ended with COMMIT received:
 * activation hooks (MIGRATED += 1 and its interrupt), vCPUs started, and
 * the resume time reported to the source (ACTIVATED: the source lets go
 * once it has it). From COMMIT on this side may run the VM and the source
 * resumes only on our ERROR, so a refusal comes before anything runs. */
void mig_dest_activate(struct migration *m)
{
	struct device_registry *reg = &m->vm->devices;
	char why[300] = "";

	mig_set_stage(m, MIG_STAGE_ACTIVATION);
	if (m->test_fault == DST_FAULT_REFUSE_AFTER_COMMIT)
		snprintf(why, sizeof(why), "failure injection (COMPSC_TEST_FAULT=refuse-after-commit)");
	else
		vm_state_event(m->vm, VM_EV_ARRIVED, why, sizeof(why));	/* refused while stopping */
	if (why[0]) {
		dest_refuse(m, why);
		return;
	}
	for (unsigned k = 0; k < reg->n; k++)
		if (reg->dev[k].ops->activate)
			reg->dev[k].ops->activate(reg->dev[k].dev);
	uint64_t resume = now_ns();
	vm_start_vcpus(m->vm);
	for (unsigned k = 0; k < reg->n; k++)
		if (reg->dev[k].ops->running)
			reg->dev[k].ops->running(reg->dev[k].dev);
	pthread_mutex_lock(&m->lock);
	m->p.resume_ns = resume;
	m->p.commit_to_resume_ns = resume - m->commit_ns;
	m->p.stage_ns[MIG_STAGE_ACTIVATION] = now_ns() - m->stage_start_ns;
	m->p.end_ns = now_ns();
	m->p.status = MIG_STATUS_COMPLETED;
	pthread_mutex_unlock(&m->lock);
	mig_put64(m->activated, resume);
	mig_put64(m->activated + 8, m->p.load_ns);
	if (m->test_fault == DST_FAULT_DELAY_ACTIVATED && delay_activated(m) == 0)
		return;
	send_activated(m);
}
