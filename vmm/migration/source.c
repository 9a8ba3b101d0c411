/* The source's stages, run on the migration thread:
 *
 *   pre-migration   connect, authenticate (auth.c)
 *   reservation     RESERVE (RAM, vCPUs, devices, the accelerator) -> RESERVE_ACK
 *   pre-copy        dirty logging on; round 0 = all RAM, round n = the
 *                   pages dirtied during round n-1, until
 *                   precopy_should_stop() says so
 *   stop-and-copy   pause; devices, last dirty pages, vCPU state, END
 *   commitment      READY -> COMMIT: from here on the source never resumes
 *                   on its own
 *   activation      ACTIVATED (the destination runs the VM): only now does
 *                   the source let go (confirm)
 *
 * Failure rule: until COMMIT has left, the source VM is the VM. Any
 * failure resumes it first (so the pause is bounded by the I/O timeout),
 * then tells the destination with an ERROR or CANCEL record. After COMMIT
 * (docs/migration-stream.md, "Commitment and confirm"): the destination's
 * ERROR means it refused before running, and the source takes the VM back
 * the same way; no answer at all (connection lost, timeout, a bad record)
 * means the outcome is unknown: the VM stays paused here with its devices
 * held until the orchestrator resolves it (mig_resolve). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../vm.h"
#include "precopy.h"

/* Dirty logging goes through vm_mem_dirty_log_* (vm.h): the accelerator's
 * log ORed with the VMM's own bitmap. */
static int set_dirty_logging(struct migration *m, bool on, char *err, size_t errlen)
{
	int ret = 0;

	if (on)
		ret = vm_mem_dirty_log_start(m->vm, err, errlen);
	else
		vm_mem_dirty_log_stop(m->vm);
	if (ret == 0)
		m->dirty_logging = on;
	return ret;
}

static int tcp_connect(struct migration *m)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[8];
	int fd = -1, ret;

	snprintf(port, sizeof(port), "%u", m->params.port);
	ret = getaddrinfo(m->params.host, port, &hints, &res);
	if (ret)
		return mig_fail(m, -EHOSTUNREACH, "cannot resolve '%s': %s", m->params.host, gai_strerror(ret));
	ret = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&m->lock);
		m->sock = fd;	/* published: a cancel shuts it down */
		pthread_mutex_unlock(&m->lock);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int e = 0;
			socklen_t el = sizeof(e);
			if (poll(&pfd, 1, (int)m->params.timeout_ms) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0) {
				ret = 0;
				break;
			}
			ret = e ? -e : -ETIMEDOUT;
		} else {
			ret = -errno;
		}
		pthread_mutex_lock(&m->lock);
		m->sock = -1;
		pthread_mutex_unlock(&m->lock);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (ret < 0)
		return mig_fail(m, ret, "cannot connect to tcp:%s:%u: %s", m->params.host, m->params.port, strerror(-ret));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	mig_set_sock_timeouts(fd, m->params.timeout_ms);
	return 0;
}

static int src_pre_migration(struct migration *m)
{
	int ret;

	mig_set_stage(m, MIG_STAGE_PRE_MIGRATION);
	mig_dma_copies_reset(m);
	/* Devices the guest drives itself learn that a migration starts
	 * (CompSC: the driver begins its dummy writes to DMA pages, and the
	 * VMM watches its DMA regions: mig_watch_dma). */
	struct device_registry *reg = &m->vm->devices;
	for (unsigned i = 0; i < reg->n; i++)
		if (reg->dev[i].ops->migrate_begin)
			reg->dev[i].ops->migrate_begin(reg->dev[i].dev);
	if ((ret = tcp_connect(m)) < 0 || (ret = mig_stall(m, MIG_STAGE_PRE_MIGRATION)) < 0)
		return ret;
	return mig_auth_source(m);
}

/* A successful RESERVE_ACK's reason: "features: WORD WORD ...". */
static bool has_feature(const char *reason, const char *word)
{
	size_t plen = strlen(MIG_FEATURES_PREFIX), wlen = strlen(word);

	if (strncmp(reason, MIG_FEATURES_PREFIX, plen) != 0)
		return false;
	for (const char *p = reason + plen; *p;) {
		size_t n = strcspn(p, " ");
		if (n == wlen && strncmp(p, word, n) == 0)
			return true;
		p += n + (p[n] == ' ');
	}
	return false;
}

static int src_reservation(struct migration *m)
{
	static uint8_t buf[MIG_RESERVE_MAX_LEN];
	/* The CPU features go here, in the first sealed record, not in HELLO:
	 * nothing about the VM before both sides are authenticated. */
	struct mig_reserve r = { .ram_size = m->vm->ram_size, .n_vcpus = m->vm->n_vcpus, .cpuid = m->cpuid };
	struct mig_verdict v;
	struct mig_rec rec;
	char err[300];
	int ret;

	mig_set_stage(m, MIG_STAGE_RESERVATION);
	if ((ret = mig_stall(m, MIG_STAGE_RESERVATION)) < 0)
		return ret;
	device_registry_describe(&m->vm->devices, &r);
	if (r.n_devices == MIG_MAX_DEVICES)
		return mig_fail(m, -ENOSPC, "too many devices to describe");
	/* The accelerator's vCPU state travels like a device's: name it, so a
	 * destination under another accelerator refuses now, not after the
	 * copy. */
	snprintf(r.dev[r.n_devices].name, MIG_DEV_NAME_LEN, "%s%s", MIG_VCPU_DEV_PREFIX, m->vm->accel->name);
	r.dev[r.n_devices++].version = 1;
	if ((ret = mig_send(&m->io, MIG_REC_RESERVE, buf, mig_encode_reserve(buf, &r))) < 0)
		return mig_fail(m, ret, "sending RESERVE: %s", strerror(-ret));
	/* Allocating and checking can take a while for a big guest. */
	mig_set_sock_timeouts(m->sock, m->params.timeout_ms * 4);
	ret = mig_recv_expect(m, MIG_REC_RESERVE_ACK, &rec, "the reservation");
	mig_set_sock_timeouts(m->sock, m->params.timeout_ms);
	if (ret < 0)
		return ret;
	if ((ret = mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "destination: %s", err);
	if (v.status < 0)
		return mig_fail(m, v.status, "reservation failed on the destination: %s", v.reason);
	m->peer_sync = has_feature(v.reason, MIG_FEATURE_SYNC);
	m->peer_late = has_feature(v.reason, MIG_FEATURE_LATE);
	return mig_check_cancel(m);
}

/* What stop-and-copy sends besides pages, for the convergence estimate.
 * Device state: its size when this VMM last saved it (an earlier attempt),
 * else a guess per device (the platform's and virtio-net's states are a
 * few hundred bytes). vCPU state: a constant per vCPU, KVM's records being
 * the larger (XSAVE 4 KiB, LAPIC 1 KiB, MSRs, registers: ~6 KiB), plus the
 * VM-wide clock and irqchips. Both are small next to a round of pages;
 * they matter when the budget is tight or the link slow. */
#define VCPU_STATE_EST (8u << 10)
#define VM_STATE_EST (2u << 10)
#define DEVICE_STATE_EST (1u << 10)

static uint64_t state_bytes_estimate(struct migration *m)
{
	uint64_t dev = m->dev_state_bytes;

	if (!dev)
		dev = (uint64_t)m->vm->devices.n * DEVICE_STATE_EST;
	return dev + (uint64_t)m->vm->n_vcpus * VCPU_STATE_EST + VM_STATE_EST;
}

/* ---- the end of a round ------------------------------------------------------------
 *
 * A round's time is what the convergence estimate divides by, so it ends
 * when the destination has the round's pages, not when the last sendmsg
 * returned: socket buffers on both ends hold tens of MiB (net.ipv4.tcp_wmem,
 * tcp_rmem), which made small guests look several times faster than the
 * link. A destination that speaks SYNC echoes it once every page before it
 * is in guest memory; with an older one, the send queue is watched until
 * the destination's kernel has acknowledged every byte (SIOCOUTQ = 0), which
 * still leaves its receive buffer unaccounted for. */

static int send_sync(struct migration *m, uint32_t round)
{
	uint8_t b[4];
	int ret;

	mig_put32(b, round);
	if ((ret = mig_send(&m->io, MIG_REC_SYNC, b, sizeof(b))) < 0)
		return mig_fail(m, ret, "sending SYNC: %s", strerror(-ret));
	return 0;
}

static int wait_round_received(struct migration *m, uint32_t round)
{
	struct mig_rec rec;
	int ret;

	if (m->peer_sync) {
		if ((ret = mig_recv_expect(m, MIG_REC_SYNC, &rec, "the end of the round (SYNC)")) < 0)
			return ret;
		if (rec.len != 4 || mig_get32(rec.body) != round)
			return mig_fail(m, -EPROTO, "the destination answered SYNC for another round");
		return 0;
	}
	uint64_t end = now_ns() + m->params.timeout_ms * 1000000ull;
	for (;;) {
		int queued = 0;
		if (ioctl(m->sock, SIOCOUTQ, &queued) < 0 || queued == 0)
			return 0;
		if (now_ns() >= end)
			return mig_fail(m, -ETIMEDOUT, "timed out waiting for the destination to receive round %u", round);
		if ((ret = mig_check_cancel(m)) < 0)
			return ret;
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
}

static int src_precopy(struct migration *m, struct mig_round *next)
{
	uint64_t t0, precopy_start = now_ns();
	struct mig_round st = { .round = 0 };
	int64_t dirty;
	int ret;

	mig_set_stage(m, MIG_STAGE_PRECOPY);
	if (m->params.stall_round == 0 && (ret = mig_stall(m, MIG_STAGE_PRECOPY)) < 0)
		return ret;
	char err[300];
	if ((ret = set_dirty_logging(m, true, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "cannot enable dirty logging: %s", err);
	/* Round 0 sends everything: what the VMM marked so far is covered. */
	memset(m->bitmap, 0, m->n_words * 8);
	vm_take_vmm_dirty(m->vm, m->bitmap);
	memset(m->bitmap, 0, m->n_words * 8);

	t0 = now_ns();
	m->round_left = m->vm->n_pages;
	if ((ret = mig_ram_send_round_marker(m, 0)) < 0 || (ret = mig_ram_send_all(m, &st)) < 0)
		return ret;
	for (;;) {
		/* The round's end: asked for now, waited for after the dirty
		 * log is read (the destination drains meanwhile). */
		if (m->peer_sync && (ret = send_sync(m, st.round)) < 0)
			return ret;
		dirty = vm_mem_dirty_log_collect(m->vm, m->bitmap, err, sizeof(err));
		if (dirty < 0)
			return mig_fail(m, (int)dirty, "dirty log: %s", err);
		if ((ret = wait_round_received(m, st.round)) < 0)
			return ret;
		st.dirty_pages = (uint64_t)dirty;
		mig_ram_round_done(m, &st, t0);
		struct precopy_input in = {
			.round = st.round,
			.max_rounds = m->params.max_rounds,
			.dirty_pages = st.dirty_pages,
			.round_bytes = st.bytes,
			.round_ns = st.ns,
			.state_bytes = state_bytes_estimate(m),
			.downtime_ms = m->params.downtime_ms,
			.elapsed_ms = (now_ns() - precopy_start) / 1000000,
			.max_precopy_ms = m->params.max_precopy_ms,
		};
		struct precopy_decision d;
		bool stop = precopy_should_stop(&in, &d);
		pthread_mutex_lock(&m->lock);
		m->p.dirty_rate = st.ns ? (uint64_t)((double)dirty * 1e9 / (double)st.ns) : 0;
		m->p.remaining_bytes = d.remaining_bytes;
		if (stop)
			m->p.precopy_exit = d.why;
		pthread_mutex_unlock(&m->lock);
		if (stop) {
			log_info("migration: pre-copy ends after round %u: %s (%" PRId64 " dirty pages, ~%" PRIu64
				 " ms at %" PRIu64 " MiB/s)", st.round, d.why, dirty,
				 d.est_ms == UINT64_MAX ? 0 : d.est_ms, d.rate_bps >> 20);
			*next = (struct mig_round){ .round = st.round + 1 };
			return 0;
		}
		st = (struct mig_round){ .round = st.round + 1 };
		if (st.round == m->params.stall_round && (ret = mig_stall(m, MIG_STAGE_PRECOPY)) < 0)
			return ret;
		t0 = now_ns();
		m->round_left = (uint64_t)dirty;
		if ((ret = mig_ram_send_round_marker(m, st.round)) < 0)
			return ret;
		/* The bitmap is consumed: copy it out so the next collection
		 * starts empty. */
		memcpy(m->scratch, m->bitmap, m->n_words * 8);
		memset(m->bitmap, 0, m->n_words * 8);
		if ((ret = mig_ram_send_bitmap(m, m->scratch, &st)) < 0)
			return ret;
	}
}

/* The report's figures of what devices carry (mig_carried), summed anew
 * after each save stage: the late one has the final count. */
static void collect_carried(struct migration *m)
{
	struct device_registry *reg = &m->vm->devices;
	struct mig_carried c = { 0 };

	for (unsigned i = 0; i < reg->n; i++)
		if (reg->dev[i].ops->migrate_carried) {
			reg->dev[i].ops->migrate_carried(reg->dev[i].dev, &c);
			c.any = true;
		}
	pthread_mutex_lock(&m->lock);
	m->p.carried = c;
	pthread_mutex_unlock(&m->lock);
}

/* Every device saves first, with the vCPUs parked, then the records go
 * out: the state is one instant's, and a device whose save has effects
 * (CompSC: the PF stops the VF) has done them before any send can fail,
 * so a failure always finds them to undo. */
static int send_devices(struct migration *m)
{
	struct device_registry *reg = &m->vm->devices;
	uint8_t *blob[DEV_MAX] = { NULL };
	size_t blob_len[DEV_MAX] = { 0 };
	uint64_t total = 0;
	int ret = 0;

	for (unsigned i = 0; i < reg->n && ret == 0; i++) {
		const struct device_entry *e = &reg->dev[i];
		if (!device_migrates(e))
			continue;
		if (!(blob[i] = malloc(MIG_DEVICE_HDR_LEN + DEV_STATE_MAX))) {
			ret = mig_fail(m, -ENOMEM, "out of memory");
			break;
		}
		char why[300] = "";
		ret = e->ops->save(e->dev, blob[i] + MIG_DEVICE_HDR_LEN, DEV_STATE_MAX, &blob_len[i], why, sizeof(why));
		if (ret < 0 || blob_len[i] > DEV_STATE_MAX) {
			ret = mig_fail(m, ret < 0 ? ret : -EOVERFLOW, "device '%s': cannot save its state%s%s", e->name,
				       why[0] ? ": " : "", why);
			break;
		}
		memset(blob[i], 0, MIG_DEV_NAME_LEN);
		memcpy(blob[i], e->name, strnlen(e->name, MIG_DEV_NAME_LEN - 1));
		mig_put32(blob[i] + MIG_DEV_NAME_LEN, e->ops->version);
		mig_put32(blob[i] + MIG_DEV_NAME_LEN + 4, (uint32_t)blob_len[i]);
	}
	for (unsigned i = 0; i < reg->n && ret == 0; i++) {
		if (!blob[i])
			continue;
		ret = mig_send(&m->io, MIG_REC_DEVICE, blob[i], (uint32_t)(MIG_DEVICE_HDR_LEN + blob_len[i]));
		if (ret < 0)
			ret = mig_fail(m, ret, "sending device state: %s", strerror(-ret));
		total += MIG_HDR_LEN + MIG_DEVICE_HDR_LEN + blob_len[i] + MIG_TRAILER_MAX;
	}
	for (unsigned i = 0; i < reg->n; i++)
		free(blob[i]);
	if (ret == 0) {
		m->dev_state_bytes = total;
		collect_carried(m);
	}
	return ret;
}

static int src_stop_and_copy(struct migration *m, struct mig_round *st)
{
	const struct accel_ops *accel = m->vm->accel;
	char err[300];
	uint64_t t0;
	int64_t dirty;
	int ret;

	mig_set_stage(m, MIG_STAGE_STOP_AND_COPY);
	pthread_mutex_lock(&m->lock);
	m->p.pause_ns = now_ns();
	pthread_mutex_unlock(&m->lock);
	/* No device may be stopped in the middle of something only its
	 * guest driver can finish (CompSC: an operation set): each may refuse,
	 * bounded, and the VM then keeps running here. */
	struct device_registry *reg = &m->vm->devices;
	for (unsigned i = 0; i < reg->n; i++) {
		char why[300];
		if (reg->dev[i].ops->migrate_quiesce &&
		    (ret = reg->dev[i].ops->migrate_quiesce(reg->dev[i].dev, why, sizeof(why))) < 0)
			return mig_fail(m, ret, "%s", why);
	}
	m->paused_by_us = true;
	if ((ret = vm_pause(m->vm)) < 0)
		return mig_fail(m, ret, "cannot pause the vCPUs: the VM is stopping");
	if ((ret = mig_stall(m, MIG_STAGE_STOP_AND_COPY)) < 0)
		return ret;
	t0 = now_ns();
	struct accel_state *vs = accel->state_new(m->vm);
	if (!vs)
		return mig_fail(m, -ENOMEM, "out of memory");
	/* vCPU state first (all parked), then the devices (which may write
	 * guest memory), then the last pages. */
	if ((ret = accel->state_save(m->vm, vs, err, sizeof(err))) < 0)
		ret = mig_fail(m, ret, "saving vCPU state: %s", err);
	if (ret == 0 && (ret = send_devices(m)) == 0) {
		dirty = vm_mem_dirty_log_collect(m->vm, m->bitmap, err, sizeof(err));
		if (dirty < 0)
			ret = mig_fail(m, (int)dirty, "dirty log: %s", err);
		else {
			m->round_left = (uint64_t)dirty;
			st->dirty_pages = (uint64_t)dirty;
			if ((ret = mig_ram_send_round_marker(m, st->round)) == 0)
				ret = mig_ram_send_bitmap(m, m->bitmap, st);
		}
	}
	if (ret == 0 && (ret = accel->state_send(m->vm, vs, &m->io)) < 0)
		ret = mig_fail(m, ret, "sending vCPU state: %s", strerror(-ret));
	accel->state_free(vs);
	if (ret == 0) {
		uint8_t end[MIG_END_LEN];
		mig_put64(end, m->pages_total);
		mig_put64(end + 8, m->records_out);
		if ((ret = mig_send(&m->io, MIG_REC_END, end, sizeof(end))) < 0)
			ret = mig_fail(m, ret, "sending END: %s", strerror(-ret));
	}
	if (ret == 0)
		mig_ram_round_done(m, st, t0);
	return ret;
}

/* Between READY and COMMIT: what devices take as late as possible. */
static int send_late_devices(struct migration *m)
{
	struct device_registry *reg = &m->vm->devices;
	uint8_t *buf = malloc(MIG_DEVICE_HDR_LEN + DEV_STATE_MAX);
	int ret = 0;

	if (!buf)
		return mig_fail(m, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < reg->n && ret == 0; i++) {
		const struct device_entry *e = &reg->dev[i];
		size_t len = 0;
		if (!e->ops->late_save)
			continue;
		if ((ret = e->ops->late_save(e->dev, buf + MIG_DEVICE_HDR_LEN, DEV_STATE_MAX, &len)) < 0) {
			ret = mig_fail(m, ret, "device '%s': cannot save its late state", e->name);
			break;
		}
		memset(buf, 0, MIG_DEV_NAME_LEN);
		memcpy(buf, e->name, strnlen(e->name, MIG_DEV_NAME_LEN - 1));
		mig_put32(buf + MIG_DEV_NAME_LEN, e->ops->version);
		mig_put32(buf + MIG_DEV_NAME_LEN + 4, (uint32_t)len);
		if ((ret = mig_send(&m->io, MIG_REC_LATE_DEVICE, buf, (uint32_t)(MIG_DEVICE_HDR_LEN + len))) < 0)
			ret = mig_fail(m, ret, "sending late device state: %s", strerror(-ret));
	}
	free(buf);
	if (ret == 0)
		collect_carried(m);
	return ret;
}

static int src_commit(struct migration *m)
{
	struct mig_verdict v;
	struct mig_rec rec;
	char err[300];
	int ret;

	mig_set_stage(m, MIG_STAGE_COMMITMENT);
	if ((ret = mig_stall(m, MIG_STAGE_COMMITMENT)) < 0)
		return ret;
	mig_set_sock_timeouts(m->sock, m->params.timeout_ms * 2);
	if ((ret = mig_recv_expect(m, MIG_REC_READY, &rec, "the destination to be READY")) < 0)
		return ret;
	if ((ret = mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "destination: %s", err);
	if (v.status < 0)
		return mig_fail(m, v.status, "the destination could not load the VM: %s", v.reason);
	if (m->peer_late && (ret = send_late_devices(m)) < 0)
		return ret;
	/* The point of no return: once COMMIT is out the source never runs the
	 * VM again. A cancel that got here first wins. */
	pthread_mutex_lock(&m->lock);
	if (atomic_load(&m->cancel)) {
		pthread_mutex_unlock(&m->lock);
		return mig_fail(m, -ECANCELED, "cancelled");
	}
	m->committed = true;
	pthread_mutex_unlock(&m->lock);
	/* Before the send: the destination cannot receive COMMIT earlier, so
	 * the downtime's lower bound stays a bound (src_downtime). */
	m->commit_ns = now_ns();
	if ((ret = mig_send(&m->io, MIG_REC_COMMIT, NULL, 0)) < 0) {
		/* The record did not leave whole (its checksum comes last): the
		 * destination cannot run the VM. Nothing more may follow it,
		 * or the bytes of a later record could complete it. */
		pthread_mutex_lock(&m->lock);
		m->committed = false;
		pthread_mutex_unlock(&m->lock);
		m->stream_torn = true;
		return mig_fail(m, ret, "sending COMMIT: %s", strerror(-ret));
	}
	log_info("migration: committed: the destination owns the VM now");
	return 0;
}

/* After COMMIT the destination's answer decides who runs the VM.
 * ACTIVATED: the destination runs it (0). ERROR: the destination refused
 * before running it, so the source takes it back (-errno, recorded).
 * Anything else (no answer within timeout-ms, a lost connection,
 * a bad record): the destination may or may not be running it, and neither
 * side can find out alone (SRC_OUTCOME_UNKNOWN, recorded). */
#define SRC_OUTCOME_UNKNOWN 1

/* Downtime from ACTIVATED without comparing the two hosts' clocks
 * ("Downtime across two clocks", docs/migration-stream.md). On our clock:
 * pause -> COMMIT sent (s1) and COMMIT sent -> ACTIVATED received (rtt_all);
 * on the destination's: COMMIT received -> vCPUs started (d1) and vCPUs
 * started -> ACTIVATED sent (d2), in microseconds, packed in the record's
 * third u64 (0 from a destination that does not report them). COMMIT's
 * one-way delay lies in [0, rtt], rtt = rtt_all - d1 - d2: the downtime
 * lies in [s1 + d1, s1 + d1 + rtt]; the estimate takes half the round
 * trip, as NTP does. Called with m->lock held. */
static void src_downtime(struct migration *m, uint64_t resume_dst, uint64_t intervals, uint64_t activated_ns)
{
	uint64_t s1 = m->commit_ns - m->p.pause_ns;
	uint64_t rtt_all = activated_ns - m->commit_ns;
	uint64_t d1 = (intervals & 0xffffffffu) * 1000, d2 = (intervals >> 32) * 1000;
	uint64_t rtt = rtt_all > d1 + d2 ? rtt_all - d1 - d2 : 0;

	m->p.commit_to_resume_ns = d1;
	m->p.downtime_lo_ns = s1 + d1;
	m->p.downtime_hi_ns = s1 + d1 + rtt;
	m->p.downtime_ns = s1 + d1 + rtt / 2;
	/* The one-clock figure only means something when both VMMs read the
	 * same clock; another host's clock lands inside the bounds (a window
	 * of a round trip) only by a coincidence we accept. */
	if (resume_dst >= m->p.pause_ns + m->p.downtime_lo_ns && resume_dst <= m->p.pause_ns + m->p.downtime_hi_ns)
		m->p.downtime_same_clock_ns = resume_dst - m->p.pause_ns;
}

static int src_activation(struct migration *m)
{
	struct mig_verdict v;
	struct mig_rec rec;
	char err[300];
	int ret;

	mig_set_stage(m, MIG_STAGE_ACTIVATION);
	mig_set_sock_timeouts(m->sock, m->params.timeout_ms);
	ret = mig_recv(&m->io, &rec, m->rxbuf, MIG_MAX_BODY, err, sizeof(err));
	if (ret == 0 && rec.type == MIG_REC_ACTIVATED && rec.len == MIG_ACTIVATED_LEN) {
		uint64_t activated = now_ns();
		pthread_mutex_lock(&m->lock);
		m->p.resume_ns = mig_get64(rec.body);	/* the destination's clock */
		m->p.load_ns = mig_get64(rec.body + 8);
		src_downtime(m, m->p.resume_ns, mig_get64(rec.body + 16), activated);
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	if (ret == 0 && rec.type == MIG_REC_ERROR && mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err)) == 0)
		return mig_fail(m, v.status < 0 ? v.status : -EIO,
				"the destination refused to run the VM after COMMIT: %s", v.reason);
	if (ret == -ETIMEDOUT || ret == -EAGAIN)
		mig_fail(m, ret, "COMMIT sent, but no answer from the destination within %" PRIu64 " ms (timeout-ms)",
			 (uint64_t)m->params.timeout_ms);
	else if (ret < 0)
		mig_fail(m, ret, "COMMIT sent, then the connection was lost before the destination confirmed: %s", err);
	else
		mig_fail(m, -EPROTO, "COMMIT sent, then the destination answered %s instead of ACTIVATED",
			 mig_rec_name(rec.type));
	return SRC_OUTCOME_UNKNOWN;
}

void mig_source_take_back(struct migration *m)
{
	struct device_registry *reg = &m->vm->devices;

	for (unsigned i = 0; i < reg->n; i++)
		if (reg->dev[i].ops->migrate_abort)
			reg->dev[i].ops->migrate_abort(reg->dev[i].dev);
	if (m->paused_by_us) {
		vm_resume(m->vm);
		m->paused_by_us = false;
	}
	if (m->dirty_logging)
		set_dirty_logging(m, false, NULL, 0);
}

void *mig_source_thread(void *arg)
{
	struct migration *m = arg;
	struct mig_round last = { 0 };
	int ret;

	ret = src_pre_migration(m);
	if (ret == 0)
		ret = src_reservation(m);
	if (ret == 0)
		ret = src_precopy(m, &last);
	if (ret == 0)
		ret = src_stop_and_copy(m, &last);
	if (ret == 0)
		ret = src_commit(m);
	if (ret == 0)
		ret = src_activation(m);
	if (ret == SRC_OUTCOME_UNKNOWN) {
		/* The destination may be running the VM: nothing is taken
		 * back, the vCPUs stay paused and the devices held (CompSC:
		 * the VF stays stopped) until the orchestrator resolves it. */
		log_warn("migration: outcome unknown: %s", m->p.error);
	} else if (ret < 0) {
		/* Not committed, or refused by the destination: the source VM
		 * is the VM. Its devices take back what the migration took
		 * (CompSC: the VF restarts, the shared area unlocks), the vCPUs
		 * resume (bounded pause), then the destination is told, best
		 * effort. */
		mig_source_take_back(m);
		if (m->sock >= 0 && !m->stream_torn) {
			mig_set_sock_timeouts(m->sock, 500);
			if (m->io.bytes_out == 0)
				mig_write_preamble(&m->io, MIG_DIR_TO_DEST);
			mig_send_verdict(m, atomic_load(&m->cancel) ? MIG_REC_CANCEL : MIG_REC_ERROR, ret, m->p.error);
		}
	}
	mig_dma_copies_reset(m);
	pthread_mutex_lock(&m->lock);
	if (m->p.stage != MIG_STAGE_NONE)
		m->p.stage_ns[m->p.stage] += now_ns() - m->stage_start_ns;
	m->p.end_ns = now_ns();
	m->p.status = ret == 0 ? MIG_STATUS_COMPLETED
		      : ret == SRC_OUTCOME_UNKNOWN ? MIG_STATUS_OUTCOME_UNKNOWN
		      : atomic_load(&m->cancel) ? MIG_STATUS_CANCELLED : MIG_STATUS_FAILED;
	pthread_mutex_unlock(&m->lock);
	m->ok = ret == 0;
	atomic_store(&m->thread_done, true);
	mig_notify_main(m);
	return NULL;
}
