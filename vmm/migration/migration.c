/* Live migration engine (see migration.h for the stages and threads, and
 * docs/migration-stream.md for the records). */
#include "migration.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/layout.h"
#include "../../common/log.h"
#include "../accel/accel.h"
#include "../vm.h"
#include "cpustate.h"
#include "devstate.h"
#include "stream.h"

#define ZERO_RUN_MAX (1u << 16)		/* pages per zero RAM record */
#define POLL_EVERY_RECORDS 16		/* source: look for a destination ERROR */
#define DEST_IO_TIMEOUT_MS 30000
#define ACTIVATED_TIMEOUT_MS 10000

/* ---- stages as data (STYLE item 9) ------------------------------------------ */

static const char *const stage_names[MIG_STAGE_COUNT] = {
	[MIG_STAGE_NONE] = "none",
	[MIG_STAGE_PRE_MIGRATION] = "pre-migration",
	[MIG_STAGE_RESERVATION] = "reservation",
	[MIG_STAGE_PRECOPY] = "iterative-pre-copy",
	[MIG_STAGE_STOP_AND_COPY] = "stop-and-copy",
	[MIG_STAGE_COMMITMENT] = "commitment",
	[MIG_STAGE_ACTIVATION] = "activation",
};

#define BIT(s) (1u << (s))
/* The only forward moves; failure is a status, not a stage. */
static const uint32_t stage_next[MIG_STAGE_COUNT] = {
	[MIG_STAGE_NONE] = BIT(MIG_STAGE_PRE_MIGRATION),
	[MIG_STAGE_PRE_MIGRATION] = BIT(MIG_STAGE_RESERVATION),
	[MIG_STAGE_RESERVATION] = BIT(MIG_STAGE_PRECOPY),
	[MIG_STAGE_PRECOPY] = BIT(MIG_STAGE_STOP_AND_COPY),
	[MIG_STAGE_STOP_AND_COPY] = BIT(MIG_STAGE_COMMITMENT),
	[MIG_STAGE_COMMITMENT] = BIT(MIG_STAGE_ACTIVATION),
	[MIG_STAGE_ACTIVATION] = 0,
};

/* Destination: the stages in which each source record may arrive (after
 * the handshake). A record outside its stages fails the migration. */
static const struct {
	uint16_t type;
	uint32_t stages;
} rx_rules[] = {
	{ MIG_REC_ROUND, BIT(MIG_STAGE_RESERVATION) | BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_RAM, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_MP_STATE, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_REGS, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_SREGS, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_XSAVE, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_XCRS, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_DEBUGREGS, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_LAPIC, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_MSRS, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_CPU_EVENTS, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_VM_CLOCK, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_VM_IRQCHIP, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_PROC_VCPU, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_DEVICE, BIT(MIG_STAGE_PRECOPY) | BIT(MIG_STAGE_STOP_AND_COPY) },
	{ MIG_REC_END, BIT(MIG_STAGE_STOP_AND_COPY) },
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
	static const char *const names[] = { "none", "listening", "active", "completed", "failed", "cancelled" };
	return s <= MIG_STATUS_CANCELLED ? names[s] : "?";
}

void mig_params_default(struct mig_params *p)
{
	memset(p, 0, sizeof(*p));
	p->downtime_ms = 300;
	p->max_rounds = 30;
	p->max_precopy_ms = 60000;
	p->timeout_ms = 5000;
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

/* ---- the engine's state ------------------------------------------------------- */

struct dev_blob {
	bool have;
	uint32_t version;
	uint32_t len;
	uint8_t *data;
};

struct migration {
	struct vm *vm;
	char token[256];
	struct mig_hooks hooks;
	int notify_fd;

	pthread_mutex_t lock;	/* p, committed, sock (publication) */
	struct mig_progress p;
	uint64_t stage_start_ns;
	bool committed;
	int sock;		/* closed by the main thread after the join */
	int listen_fd;

	struct mig_params params;
	/* Read at init: a vCPU ioctl would wait for KVM_RUN to return. */
	struct mig_cpuid_summary cpuid;
	struct mig_cpuid_summary src_cpuid;	/* destination: from the source's HELLO */
	pthread_t thread;
	bool thread_live;
	atomic_bool thread_done;
	atomic_bool cancel;
	bool ok;		/* thread outcome */

	struct mig_io io;
	uint8_t *rxbuf, *txbuf;
	uint64_t n_words;
	uint64_t *bitmap, *scratch;
	bool dirty_logging;
	bool paused_by_us;
	uint64_t records_out;
	uint64_t round_left;	/* pages left in the current round */
	uint64_t bytes_at_start;
	uint64_t pages_total;

	/* Destination. */
	struct accel_state *vstate;	/* vCPU/VM state as received */
	struct dev_blob dev[MIG_MAX_DEVICES];
	uint64_t *touched;	/* pages written since the VM was created */
	uint32_t rx_round;
	bool rx_round_seen;
};

static void notify_main(struct migration *m)
{
	uint64_t one = 1;

	if (write(m->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("migration: notify: %s", strerror(errno));
}

static void set_stage(struct migration *m, enum mig_stage s)
{
	uint64_t now = now_ns();

	pthread_mutex_lock(&m->lock);
	if (!(stage_next[m->p.stage] & BIT(s)))
		log_error("migration: internal: stage %s -> %s is not a transition", mig_stage_name(m->p.stage),
			  mig_stage_name(s));
	if (m->p.stage != MIG_STAGE_NONE)
		m->p.stage_ns[m->p.stage] += now - m->stage_start_ns;
	m->stage_start_ns = now;
	m->p.stage = s;
	pthread_mutex_unlock(&m->lock);
	log_info("migration: %s: stage %s", m->p.source ? "outgoing" : "incoming", mig_stage_name(s));
	notify_main(m);
}

static int fail(struct migration *m, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct migration *m, int ret, const char *fmt, ...)
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

static int check_cancel(struct migration *m)
{
	if (atomic_load(&m->cancel))
		return fail(m, -ECANCELED, "cancelled");
	if (atomic_load(&m->vm->stopping))
		return fail(m, -ECANCELED, "the VM is shutting down");
	return 0;
}

/* Failure injection (tests): sleep at the start of a stage, cancellable. */
static int stall(struct migration *m, enum mig_stage s)
{
	if (m->params.stall_stage != s || !m->params.stall_ms)
		return 0;
	log_info("migration: stalling %u ms in %s (failure injection)", m->params.stall_ms, mig_stage_name(s));
	uint64_t end = now_ns() + m->params.stall_ms * 1000000ull;
	while (now_ns() < end) {
		int ret = check_cancel(m);
		if (ret < 0)
			return ret;
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int compute_mac(const char *token, const char *label, const uint8_t *ns, const uint8_t *nd,
		       uint8_t out[MIG_MAC_LEN])
{
	uint8_t msg[64 + 2 * MIG_NONCE_LEN];
	size_t ll = strlen(label), outlen = 0;

	memcpy(msg, label, ll);
	memcpy(msg + ll, ns, MIG_NONCE_LEN);
	memcpy(msg + ll + MIG_NONCE_LEN, nd, MIG_NONCE_LEN);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, token, strlen(token), msg, ll + 2 * MIG_NONCE_LEN,
		       out, MIG_MAC_LEN, &outlen) || outlen != MIG_MAC_LEN)
		return -EIO;
	return 0;
}

static void set_sock_timeouts(int fd, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Receives a record of `type`; an ERROR or CANCEL from the peer instead
 * fails with the peer's reason. */
static int recv_expect(struct migration *m, uint16_t type, struct mig_rec *rec, const char *waiting_for)
{
	char err[300];
	int ret = mig_recv(&m->io, rec, m->rxbuf, MIG_MAX_BODY, err, sizeof(err));

	if (ret < 0) {
		if (atomic_load(&m->cancel))
			return fail(m, -ECANCELED, "cancelled");
		if (ret == -ETIMEDOUT)
			return fail(m, ret, "timed out waiting for %s", waiting_for);
		return fail(m, ret, "while waiting for %s: %s", waiting_for, err);
	}
	if (rec->type == MIG_REC_ERROR || rec->type == MIG_REC_CANCEL) {
		struct mig_verdict v;
		if (mig_parse_verdict(rec->body, rec->len, &v, err, sizeof(err)) < 0)
			return fail(m, -EPROTO, "peer sent a malformed %s: %s", mig_rec_name(rec->type), err);
		if (rec->type == MIG_REC_CANCEL)
			return fail(m, -ECANCELED, "the source cancelled the migration: %s", v.reason);
		return fail(m, v.status ? v.status : -EIO, "the %s failed: %s",
			    m->p.source ? "destination" : "source", v.reason);
	}
	if (rec->type != type)
		return fail(m, -EPROTO, "expected %s, got %s", mig_rec_name(type), mig_rec_name(rec->type));
	return 0;
}

static int send_verdict(struct migration *m, uint16_t type, int status, const char *reason)
{
	uint8_t buf[8 + MIG_REASON_LEN];
	struct mig_verdict v = { .status = status };

	snprintf(v.reason, sizeof(v.reason), "%s", reason);
	return mig_send(&m->io, type, buf, mig_encode_verdict(buf, &v));
}

/* ---- dirty pages -------------------------------------------------------------- */

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

/* ---- source: sending pages ------------------------------------------------------ */

struct run {
	uint64_t first;
	uint32_t n;
	bool zero;
};

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < MIG_PAGE_SIZE / 8; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return false;
	return true;
}

static int throttle(struct migration *m)
{
	if (!m->params.bandwidth)
		return 0;
	for (;;) {
		uint64_t sent = m->io.bytes_out - m->bytes_at_start;
		uint64_t due_ns = (uint64_t)((double)sent * 1e9 / (double)m->params.bandwidth);
		uint64_t elapsed = now_ns() - m->p.start_ns;
		if (due_ns <= elapsed)
			return 0;
		int ret = check_cancel(m);
		if (ret < 0)
			return ret;
		uint64_t wait = due_ns - elapsed;
		if (wait > 20000000)
			wait = 20000000;
		struct timespec ts = { 0, (long)wait };
		nanosleep(&ts, NULL);
	}
}

/* The destination reports failures with an ERROR record while the source
 * is still sending: look for one now and then. */
static int poll_peer(struct migration *m)
{
	struct pollfd pfd = { .fd = m->sock, .events = POLLIN };

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	struct mig_rec rec;
	int ret = recv_expect(m, MIG_REC_READY, &rec, "the destination");
	if (ret < 0)
		return ret;
	return fail(m, -EPROTO, "the destination sent READY before the end of the stream");
}

static int flush_run(struct migration *m, struct run *r, struct mig_round *st)
{
	uint8_t hdr[MIG_RAM_HDR_LEN];
	struct iovec iov[2];
	int ret;

	if (!r->n)
		return 0;
	mig_put64(hdr, r->first * MIG_PAGE_SIZE);
	mig_put32(hdr + 8, r->n);
	mig_put32(hdr + 12, r->zero ? MIG_RAM_ZERO : 0);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ m->txbuf, r->zero ? 0 : (size_t)r->n * MIG_PAGE_SIZE };
	uint64_t before = m->io.bytes_out;
	ret = mig_sendv(&m->io, MIG_REC_RAM, iov, r->zero ? 1 : 2);
	if (ret < 0) {
		int r2 = poll_peer(m);
		if (r2 < 0)
			return r2;
		if (atomic_load(&m->cancel))
			return fail(m, -ECANCELED, "cancelled");
		return fail(m, ret, "sending guest memory: %s",
			    ret == -ETIMEDOUT ? "timed out (the destination stopped reading)" : strerror(-ret));
	}
	m->records_out++;
	st->pages += r->n;
	st->bytes += m->io.bytes_out - before;
	if (r->zero)
		st->zero_pages += r->n;
	m->pages_total += r->n;
	m->round_left = m->round_left > r->n ? m->round_left - r->n : 0;
	pthread_mutex_lock(&m->lock);
	m->p.bytes = m->io.bytes_out;
	m->p.pages = m->pages_total;
	m->p.remaining_bytes = m->round_left * MIG_PAGE_SIZE;
	pthread_mutex_unlock(&m->lock);
	r->n = 0;
	if (m->records_out % POLL_EVERY_RECORDS == 0 && (ret = poll_peer(m)) < 0)
		return ret;
	if ((ret = check_cancel(m)) < 0)
		return ret;
	return throttle(m);
}

static int add_page(struct migration *m, struct run *r, uint64_t pfn, struct mig_round *st)
{
	const uint8_t *src = m->vm->ram + pfn * MIG_PAGE_SIZE;
	bool zero = page_is_zero(src);
	int ret;

	if (r->n && (r->zero != zero || r->first + r->n != pfn ||
		     r->n == (zero ? ZERO_RUN_MAX : MIG_RAM_MAX_PAGES))) {
		if ((ret = flush_run(m, r, st)) < 0)
			return ret;
	}
	if (!r->n) {
		r->first = pfn;
		r->zero = zero;
	}
	/* Copied before checksumming: the guest keeps writing (the dirty log
	 * catches that for the next round) and the CRC must match what goes
	 * on the wire. */
	if (!zero)
		memcpy(m->txbuf + (size_t)r->n * MIG_PAGE_SIZE, src, MIG_PAGE_SIZE);
	r->n++;
	return 0;
}

static int add_zero_range(struct migration *m, struct run *r, uint64_t pfn, uint64_t count, struct mig_round *st)
{
	int ret = flush_run(m, r, st);

	while (ret == 0 && count) {
		uint32_t n = count > ZERO_RUN_MAX ? ZERO_RUN_MAX : (uint32_t)count;
		*r = (struct run){ .first = pfn, .n = n, .zero = true };
		ret = flush_run(m, r, st);
		pfn += n;
		count -= n;
	}
	return ret;
}

static int send_bitmap(struct migration *m, const uint64_t *bitmap, struct mig_round *st)
{
	struct run r = { 0 };
	int ret;

	for (uint64_t w = 0; w < m->n_words; w++) {
		uint64_t bits = bitmap[w];
		while (bits) {
			uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (pfn < m->vm->n_pages && (ret = add_page(m, &r, pfn, st)) < 0)
				return ret;
		}
	}
	return flush_run(m, &r, st);
}

/* Round 0: every page. Pages the guest never touched are holes in the
 * memfd: they go as zero runs without being read (reading would allocate
 * them). */
static int send_all_ram(struct migration *m, struct mig_round *st)
{
	struct vm *vm = m->vm;
	struct run r = { 0 };
	uint64_t off = 0;
	int ret = 0;

	while (off < vm->ram_size && ret == 0) {
		off_t data = lseek(vm->ram_fd, (off_t)off, SEEK_DATA);
		if (data < 0 || (uint64_t)data >= vm->ram_size) {
			ret = add_zero_range(m, &r, off / MIG_PAGE_SIZE, (vm->ram_size - off) / MIG_PAGE_SIZE, st);
			break;
		}
		uint64_t d = (uint64_t)data & ~(uint64_t)(MIG_PAGE_SIZE - 1);
		if (d > off)
			ret = add_zero_range(m, &r, off / MIG_PAGE_SIZE, (d - off) / MIG_PAGE_SIZE, st);
		off_t hole = lseek(vm->ram_fd, (off_t)d, SEEK_HOLE);
		uint64_t h = hole < 0 || (uint64_t)hole > vm->ram_size ? vm->ram_size : (uint64_t)hole;
		h = (h + MIG_PAGE_SIZE - 1) & ~(uint64_t)(MIG_PAGE_SIZE - 1);
		for (uint64_t pfn = d / MIG_PAGE_SIZE; pfn < h / MIG_PAGE_SIZE && ret == 0; pfn++)
			ret = add_page(m, &r, pfn, st);
		off = h > d ? h : d + MIG_PAGE_SIZE;
	}
	return ret ? ret : flush_run(m, &r, st);
}

static int send_round_marker(struct migration *m, uint32_t round)
{
	uint8_t b[4];

	mig_put32(b, round);
	int ret = mig_send(&m->io, MIG_REC_ROUND, b, sizeof(b));
	return ret < 0 ? fail(m, ret, "sending: %s", strerror(-ret)) : 0;
}

static void round_done(struct migration *m, struct mig_round *st, uint64_t t0)
{
	st->ns = now_ns() - t0;
	pthread_mutex_lock(&m->lock);
	if (m->p.n_rounds < MIG_ROUNDS_KEPT)
		m->p.rounds[m->p.n_rounds++] = *st;
	m->p.round = st->round;
	pthread_mutex_unlock(&m->lock);
	log_info("migration: round %u: %" PRIu64 " pages (%" PRIu64 " zero), %" PRIu64 " KiB in %" PRIu64 " ms",
		 st->round, st->pages, st->zero_pages, st->bytes >> 10, st->ns / 1000000);
}

/* ---- source stages ------------------------------------------------------------------ */

static int tcp_connect(struct migration *m)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char port[8];
	int fd = -1, ret;

	snprintf(port, sizeof(port), "%u", m->params.port);
	ret = getaddrinfo(m->params.host, port, &hints, &res);
	if (ret)
		return fail(m, -EHOSTUNREACH, "cannot resolve '%s': %s", m->params.host, gai_strerror(ret));
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
		return fail(m, ret, "cannot connect to tcp:%s:%u: %s", m->params.host, m->params.port, strerror(-ret));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	set_sock_timeouts(fd, m->params.timeout_ms);
	return 0;
}

static int src_pre_migration(struct migration *m)
{
	struct mig_hello h = { .ram_size = m->vm->ram_size, .n_vcpus = m->vm->n_vcpus, .page_size = MIG_PAGE_SIZE };
	uint8_t buf[MIG_HELLO_LEN], mac[MIG_MAC_LEN];
	struct mig_hello_ack ack;
	struct mig_rec rec;
	char err[300];
	int ret;

	set_stage(m, MIG_STAGE_PRE_MIGRATION);
	if ((ret = tcp_connect(m)) < 0 || (ret = stall(m, MIG_STAGE_PRE_MIGRATION)) < 0)
		return ret;
	if (getrandom(h.nonce, sizeof(h.nonce), 0) != sizeof(h.nonce))
		return fail(m, -EIO, "getrandom: %s", strerror(errno));
	h.cpuid = m->cpuid;
	mig_encode_hello(buf, &h);
	if ((ret = mig_write_preamble(&m->io, MIG_DIR_TO_DEST)) < 0 ||
	    (ret = mig_send(&m->io, MIG_REC_HELLO, buf, sizeof(buf))) < 0)
		return fail(m, ret, "sending HELLO: %s", strerror(-ret));
	if ((ret = mig_read_preamble(&m->io, MIG_DIR_TO_SOURCE, err, sizeof(err))) < 0)
		return fail(m, ret, "destination: %s", err);
	if ((ret = recv_expect(m, MIG_REC_HELLO_ACK, &rec, "HELLO_ACK")) < 0)
		return ret;
	if ((ret = mig_parse_hello_ack(rec.body, rec.len, &ack, err, sizeof(err))) < 0)
		return fail(m, ret, "destination: %s", err);
	if (ack.v.status < 0)
		return fail(m, ack.v.status, "the destination refused: %s", ack.v.reason);
	if (compute_mac(m->token, "compsc-mig-destination", h.nonce, ack.nonce, mac) < 0)
		return fail(m, -EIO, "HMAC failed");
	if (CRYPTO_memcmp(mac, ack.mac, MIG_MAC_LEN) != 0)
		return fail(m, -EACCES, "authentication failed: the destination does not know the migration token");
	if (compute_mac(m->token, "compsc-mig-source", h.nonce, ack.nonce, mac) < 0)
		return fail(m, -EIO, "HMAC failed");
	if ((ret = mig_send(&m->io, MIG_REC_AUTH, mac, sizeof(mac))) < 0)
		return fail(m, ret, "sending AUTH: %s", strerror(-ret));
	return check_cancel(m);
}

static int src_reservation(struct migration *m)
{
	static uint8_t buf[16 + MIG_MAX_DEVICES * (MIG_DEV_NAME_LEN + 4)];
	struct mig_reserve r = { .ram_size = m->vm->ram_size, .n_vcpus = m->vm->n_vcpus };
	struct mig_verdict v;
	struct mig_rec rec;
	char err[300];
	int ret;

	set_stage(m, MIG_STAGE_RESERVATION);
	if ((ret = stall(m, MIG_STAGE_RESERVATION)) < 0)
		return ret;
	mig_registry_describe(m->vm->mig_devices, &r);
	if (r.n_devices == MIG_MAX_DEVICES)
		return fail(m, -ENOSPC, "too many devices to describe");
	/* The accelerator's vCPU state travels like a device's: name it, so a
	 * destination under another accelerator refuses now, not after the
	 * copy. */
	snprintf(r.dev[r.n_devices].name, MIG_DEV_NAME_LEN, "%s%s", MIG_VCPU_DEV_PREFIX, m->vm->accel->name);
	r.dev[r.n_devices++].version = 1;
	if ((ret = mig_send(&m->io, MIG_REC_RESERVE, buf, mig_encode_reserve(buf, &r))) < 0)
		return fail(m, ret, "sending RESERVE: %s", strerror(-ret));
	/* Allocating and checking can take a while for a big guest. */
	set_sock_timeouts(m->sock, m->params.timeout_ms * 4);
	ret = recv_expect(m, MIG_REC_RESERVE_ACK, &rec, "the reservation");
	set_sock_timeouts(m->sock, m->params.timeout_ms);
	if (ret < 0)
		return ret;
	if ((ret = mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err))) < 0)
		return fail(m, ret, "destination: %s", err);
	if (v.status < 0)
		return fail(m, v.status, "reservation failed on the destination: %s", v.reason);
	return check_cancel(m);
}

static int src_precopy(struct migration *m, struct mig_round *next)
{
	uint64_t t0, precopy_start = now_ns();
	struct mig_round st = { .round = 0 };
	int64_t dirty;
	int ret;

	set_stage(m, MIG_STAGE_PRECOPY);
	if ((ret = stall(m, MIG_STAGE_PRECOPY)) < 0)
		return ret;
	char err[300];
	if ((ret = set_dirty_logging(m, true, err, sizeof(err))) < 0)
		return fail(m, ret, "cannot enable dirty logging: %s", err);
	/* Round 0 sends everything: what the VMM marked so far is covered. */
	memset(m->bitmap, 0, m->n_words * 8);
	vm_take_vmm_dirty(m->vm, m->bitmap);
	memset(m->bitmap, 0, m->n_words * 8);

	t0 = now_ns();
	m->round_left = m->vm->n_pages;
	if ((ret = send_round_marker(m, 0)) < 0 || (ret = send_all_ram(m, &st)) < 0)
		return ret;
	for (;;) {
		dirty = vm_mem_dirty_log_collect(m->vm, m->bitmap, err, sizeof(err));
		if (dirty < 0)
			return fail(m, (int)dirty, "dirty log: %s", err);
		st.dirty_pages = (uint64_t)dirty;
		round_done(m, &st, t0);
		uint64_t rate_bps = st.ns ? (uint64_t)((double)st.bytes * 1e9 / (double)st.ns) : 0;
		uint64_t dirty_rate = st.ns ? (uint64_t)((double)dirty * 1e9 / (double)st.ns) : 0;
		/* Estimate: dirty pages at this round's transfer rate. */
		uint64_t est_ms = rate_bps ? (uint64_t)((double)dirty * MIG_PAGE_SIZE * 1000.0 / (double)rate_bps) : 0;
		pthread_mutex_lock(&m->lock);
		m->p.dirty_rate = dirty_rate;
		m->p.remaining_bytes = (uint64_t)dirty * MIG_PAGE_SIZE;
		pthread_mutex_unlock(&m->lock);
		const char *why = NULL;
		if (dirty == 0)
			why = "nothing dirty";
		else if (est_ms <= m->params.downtime_ms)
			why = "remaining data fits the downtime budget";
		else if (st.round >= m->params.max_rounds)
			why = "round limit";
		else if ((now_ns() - precopy_start) / 1000000 >= m->params.max_precopy_ms)
			why = "time limit";
		if (why) {
			log_info("migration: pre-copy ends after round %u: %s (%" PRId64 " dirty pages, ~%" PRIu64
				 " ms at %" PRIu64 " MiB/s)", st.round, why, dirty, est_ms, rate_bps >> 20);
			*next = (struct mig_round){ .round = st.round + 1 };
			return 0;
		}
		st = (struct mig_round){ .round = st.round + 1 };
		t0 = now_ns();
		m->round_left = (uint64_t)dirty;
		if ((ret = send_round_marker(m, st.round)) < 0)
			return ret;
		/* The bitmap is consumed: copy it out so the next collection
		 * starts empty. */
		memcpy(m->scratch, m->bitmap, m->n_words * 8);
		memset(m->bitmap, 0, m->n_words * 8);
		if ((ret = send_bitmap(m, m->scratch, &st)) < 0)
			return ret;
	}
}

static int send_devices(struct migration *m)
{
	struct mig_registry *reg = m->vm->mig_devices;
	uint8_t *buf = malloc(MIG_DEVICE_HDR_LEN + MIG_DEV_STATE_MAX);
	int ret = 0;

	if (!buf)
		return fail(m, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < reg->n && ret == 0; i++) {
		const struct mig_device_ops *ops = reg->dev[i].ops;
		size_t len = 0;
		ret = ops->save(reg->dev[i].opaque, buf + MIG_DEVICE_HDR_LEN, MIG_DEV_STATE_MAX, &len);
		if (ret < 0 || len > MIG_DEV_STATE_MAX) {
			ret = fail(m, ret < 0 ? ret : -EOVERFLOW, "device '%s': cannot save its state", ops->name);
			break;
		}
		memset(buf, 0, MIG_DEV_NAME_LEN);
		memcpy(buf, ops->name, strnlen(ops->name, MIG_DEV_NAME_LEN - 1));
		mig_put32(buf + MIG_DEV_NAME_LEN, ops->version);
		mig_put32(buf + MIG_DEV_NAME_LEN + 4, (uint32_t)len);
		ret = mig_send(&m->io, MIG_REC_DEVICE, buf, (uint32_t)(MIG_DEVICE_HDR_LEN + len));
		if (ret < 0)
			ret = fail(m, ret, "sending device state: %s", strerror(-ret));
	}
	free(buf);
	return ret;
}

static int src_stop_and_copy(struct migration *m, struct mig_round *st)
{
	const struct accel_ops *accel = m->vm->accel;
	char err[300];
	uint64_t t0;
	int64_t dirty;
	int ret;

	set_stage(m, MIG_STAGE_STOP_AND_COPY);
	pthread_mutex_lock(&m->lock);
	m->p.pause_ns = now_ns();
	pthread_mutex_unlock(&m->lock);
	m->paused_by_us = true;
	if ((ret = vm_pause(m->vm)) < 0)
		return fail(m, ret, "cannot pause the vCPUs: the VM is stopping");
	if ((ret = stall(m, MIG_STAGE_STOP_AND_COPY)) < 0)
		return ret;
	t0 = now_ns();
	struct accel_state *vs = accel->state_new(m->vm);
	if (!vs)
		return fail(m, -ENOMEM, "out of memory");
	/* vCPU state first (all parked), then the devices (which may write
	 * guest memory), then the last pages. */
	if ((ret = accel->state_save(m->vm, vs, err, sizeof(err))) < 0)
		ret = fail(m, ret, "saving vCPU state: %s", err);
	if (ret == 0 && (ret = send_devices(m)) == 0) {
		dirty = vm_mem_dirty_log_collect(m->vm, m->bitmap, err, sizeof(err));
		if (dirty < 0)
			ret = fail(m, (int)dirty, "dirty log: %s", err);
		else {
			m->round_left = (uint64_t)dirty;
			st->dirty_pages = (uint64_t)dirty;
			if ((ret = send_round_marker(m, st->round)) == 0)
				ret = send_bitmap(m, m->bitmap, st);
		}
	}
	if (ret == 0 && (ret = accel->state_send(m->vm, vs, &m->io)) < 0)
		ret = fail(m, ret, "sending vCPU state: %s", strerror(-ret));
	accel->state_free(vs);
	if (ret == 0) {
		uint8_t end[MIG_END_LEN];
		mig_put64(end, m->pages_total);
		mig_put64(end + 8, m->records_out);
		if ((ret = mig_send(&m->io, MIG_REC_END, end, sizeof(end))) < 0)
			ret = fail(m, ret, "sending END: %s", strerror(-ret));
	}
	if (ret == 0)
		round_done(m, st, t0);
	return ret;
}

static int src_commit(struct migration *m)
{
	struct mig_verdict v;
	struct mig_rec rec;
	char err[300];
	int ret;

	set_stage(m, MIG_STAGE_COMMITMENT);
	if ((ret = stall(m, MIG_STAGE_COMMITMENT)) < 0)
		return ret;
	set_sock_timeouts(m->sock, m->params.timeout_ms * 2);
	if ((ret = recv_expect(m, MIG_REC_READY, &rec, "the destination to be READY")) < 0)
		return ret;
	if ((ret = mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err))) < 0)
		return fail(m, ret, "destination: %s", err);
	if (v.status < 0)
		return fail(m, v.status, "the destination could not load the VM: %s", v.reason);
	/* The point of no return: once COMMIT is out the source never runs the
	 * VM again. A cancel that got here first wins. */
	pthread_mutex_lock(&m->lock);
	if (atomic_load(&m->cancel)) {
		pthread_mutex_unlock(&m->lock);
		return fail(m, -ECANCELED, "cancelled");
	}
	m->committed = true;
	pthread_mutex_unlock(&m->lock);
	if ((ret = mig_send(&m->io, MIG_REC_COMMIT, NULL, 0)) < 0) {
		/* The record did not leave: the destination cannot run the VM. */
		pthread_mutex_lock(&m->lock);
		m->committed = false;
		pthread_mutex_unlock(&m->lock);
		return fail(m, ret, "sending COMMIT: %s", strerror(-ret));
	}
	log_info("migration: committed: the destination owns the VM now");
	return 0;
}

static void src_activation(struct migration *m)
{
	struct mig_rec rec;

	set_stage(m, MIG_STAGE_ACTIVATION);
	set_sock_timeouts(m->sock, ACTIVATED_TIMEOUT_MS);
	if (recv_expect(m, MIG_REC_ACTIVATED, &rec, "ACTIVATED") < 0 || rec.len != MIG_ACTIVATED_LEN) {
		pthread_mutex_lock(&m->lock);
		log_warn("migration: committed, but the destination did not confirm activation (%s)", m->p.error);
		m->p.error[0] = '\0';
		pthread_mutex_unlock(&m->lock);
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->p.resume_ns = mig_get64(rec.body);
	m->p.load_ns = mig_get64(rec.body + 8);
	if (m->p.resume_ns > m->p.pause_ns)
		m->p.downtime_ns = m->p.resume_ns - m->p.pause_ns;
	pthread_mutex_unlock(&m->lock);
}

static void *source_thread(void *arg)
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
	if (ret == 0) {
		src_activation(m);
	} else {
		/* Not committed: the source VM is the VM. Resume first (bounded
		 * pause), then tell the destination, best effort. */
		if (m->paused_by_us) {
			vm_resume(m->vm);
			m->paused_by_us = false;
		}
		if (m->dirty_logging)
			set_dirty_logging(m, false, NULL, 0);
		if (m->sock >= 0) {
			set_sock_timeouts(m->sock, 500);
			if (m->io.bytes_out == 0)
				mig_write_preamble(&m->io, MIG_DIR_TO_DEST);
			send_verdict(m, atomic_load(&m->cancel) ? MIG_REC_CANCEL : MIG_REC_ERROR, ret, m->p.error);
		}
	}
	pthread_mutex_lock(&m->lock);
	if (m->p.stage != MIG_STAGE_NONE)
		m->p.stage_ns[m->p.stage] += now_ns() - m->stage_start_ns;
	m->p.end_ns = now_ns();
	m->p.status = ret == 0 ? MIG_STATUS_COMPLETED
		      : atomic_load(&m->cancel) ? MIG_STATUS_CANCELLED : MIG_STATUS_FAILED;
	pthread_mutex_unlock(&m->lock);
	m->ok = ret == 0;
	atomic_store(&m->thread_done, true);
	notify_main(m);
	return NULL;
}

/* ---- destination ------------------------------------------------------------------------ */

static bool page_touched(struct migration *m, uint64_t pfn)
{
	return m->touched[pfn / 64] & (1ull << (pfn % 64));
}

static int dst_ram(struct migration *m, const struct mig_rec *rec)
{
	struct mig_ram r;
	char err[300];
	int ret = mig_parse_ram(rec->body, rec->len, m->vm->ram_size, &r, err, sizeof(err));

	if (ret < 0)
		return fail(m, ret, "bad stream: %s", err);
	uint64_t pfn0 = r.gpa / MIG_PAGE_SIZE;
	if (r.data) {
		/* Written through the memfd rather than the mapping: whole
		 * pages go straight into the page cache, without a page fault
		 * and a clear_page each (the cost that dominated large VMs). */
		size_t len = (size_t)r.count * MIG_PAGE_SIZE, done = 0;
		while (done < len) {
			ssize_t n = pwrite(m->vm->ram_fd, r.data + done, len - done, (off_t)(r.gpa + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return fail(m, n < 0 ? -errno : -EIO, "writing guest memory at 0x%" PRIx64 ": %s",
					    r.gpa + done, n < 0 ? strerror(errno) : "short write");
			done += (size_t)n;
		}
		for (uint32_t i = 0; i < r.count; i++)
			m->touched[(pfn0 + i) / 64] |= 1ull << ((pfn0 + i) % 64);
	} else {
		for (uint32_t i = 0; i < r.count; i++)
			if (page_touched(m, pfn0 + i))
				memset(m->vm->ram + (pfn0 + i) * MIG_PAGE_SIZE, 0, MIG_PAGE_SIZE);
	}
	m->pages_total += r.count;
	return 0;
}

static int dst_device(struct migration *m, const struct mig_rec *rec)
{
	struct mig_device_rec d;
	char err[300];
	int ret = mig_parse_device(rec->body, rec->len, &d, err, sizeof(err));

	if (ret < 0)
		return fail(m, ret, "bad stream: %s", err);
	int k = mig_registry_find(m->vm->mig_devices, d.d.name);
	if (k < 0)
		return fail(m, -ENODEV, "bad stream: state for device '%s', which this VM does not have", d.d.name);
	if (m->dev[k].have)
		return fail(m, -EPROTO, "bad stream: device '%s' state sent twice", d.d.name);
	if (d.len > MIG_DEV_STATE_MAX)
		return fail(m, -EPROTO, "bad stream: device '%s' state of %u bytes", d.d.name, d.len);
	m->dev[k].data = malloc(d.len ? d.len : 1);
	if (!m->dev[k].data)
		return fail(m, -ENOMEM, "out of memory");
	memcpy(m->dev[k].data, d.data, d.len);
	m->dev[k].len = d.len;
	m->dev[k].version = d.d.version;
	m->dev[k].have = true;
	return 0;
}

static int dst_handshake(struct migration *m)
{
	struct mig_hello h;
	struct mig_hello_ack ack = { 0 };
	struct mig_rec rec;
	uint8_t buf[MIG_NONCE_LEN + MIG_MAC_LEN + 8 + MIG_REASON_LEN], mac[MIG_MAC_LEN];
	char err[300];
	int ret;

	set_stage(m, MIG_STAGE_PRE_MIGRATION);
	if ((ret = mig_read_preamble(&m->io, MIG_DIR_TO_DEST, err, sizeof(err))) < 0)
		return fail(m, ret, "bad stream: %s", err);
	if ((ret = recv_expect(m, MIG_REC_HELLO, &rec, "HELLO")) < 0)
		return ret;
	if ((ret = mig_parse_hello(rec.body, rec.len, &h, err, sizeof(err))) < 0)
		return fail(m, ret, "bad stream: %s", err);
	if (getrandom(ack.nonce, sizeof(ack.nonce), 0) != sizeof(ack.nonce) ||
	    compute_mac(m->token, "compsc-mig-destination", h.nonce, ack.nonce, ack.mac) < 0)
		return fail(m, -EIO, "cannot create the handshake");
	/* The CPU check waits for the reservation: after authentication, and
	 * after the accelerator check (another accelerator is the clearer
	 * reason when both differ). */
	m->src_cpuid = h.cpuid;
	ack.v.status = 0;
	int wret = mig_write_preamble(&m->io, MIG_DIR_TO_SOURCE);
	if (wret == 0)
		wret = mig_send(&m->io, MIG_REC_HELLO_ACK, buf, mig_encode_hello_ack(buf, &ack));
	if (wret < 0)
		return fail(m, wret, "sending HELLO_ACK: %s", strerror(-wret));
	if ((ret = recv_expect(m, MIG_REC_AUTH, &rec, "AUTH")) < 0)
		return ret;
	if (compute_mac(m->token, "compsc-mig-source", h.nonce, ack.nonce, mac) < 0)
		return fail(m, -EIO, "HMAC failed");
	if (rec.len != MIG_MAC_LEN || CRYPTO_memcmp(mac, rec.body, MIG_MAC_LEN) != 0) {
		fail(m, -EACCES, "authentication failed: the source does not know the migration token");
		send_verdict(m, MIG_REC_ERROR, -EACCES, "authentication failed");
		return -EACCES;
	}
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

	set_stage(m, MIG_STAGE_RESERVATION);
	if ((ret = recv_expect(m, MIG_REC_RESERVE, &rec, "RESERVE")) < 0)
		return ret;
	if ((ret = mig_parse_reserve(rec.body, rec.len, &r, err, sizeof(err))) < 0) {
		fail(m, ret, "bad stream: %s", err);
	} else if (r.ram_size != vm->ram_size) {
		ret = fail(m, -EINVAL, "memory size differs: source %" PRIu64 " MiB, destination %" PRIu64 " MiB",
			   r.ram_size >> 20, vm->ram_size >> 20);
	} else if (r.n_vcpus != vm->n_vcpus) {
		ret = fail(m, -EINVAL, "vCPU count differs: source %u, destination %u", r.n_vcpus, vm->n_vcpus);
	} else if ((ret = take_accel_entry(&r, vm->accel->name, err, sizeof(err))) < 0) {
		fail(m, ret, "%s", err);
	} else if ((ret = mig_cpuid_check(&m->src_cpuid, &m->cpuid, err, sizeof(err))) < 0) {
		fail(m, ret, "incompatible source: %s", err);
	} else if ((ret = mig_registry_check(vm->mig_devices, &r, err, sizeof(err))) < 0) {
		fail(m, ret, "%s", err);
	} else if (fallocate(vm->ram_fd, 0, 0, (off_t)vm->ram_size) < 0) {
		/* Reserve the memory now, so a full host fails here and not
		 * with SIGBUS halfway through the copy. */
		ret = fail(m, -errno, "cannot allocate %" PRIu64 " MiB of guest memory: %s", vm->ram_size >> 20,
			   strerror(errno));
	} else if (!(m->vstate = vm->accel->state_new(vm))) {
		ret = fail(m, -ENOMEM, "out of memory");
	}
	if (ret < 0) {
		pthread_mutex_lock(&m->lock);
		snprintf(err, sizeof(err), "%.299s", m->p.error);
		pthread_mutex_unlock(&m->lock);
		send_verdict(m, MIG_REC_RESERVE_ACK, ret, err);
		return ret;
	}
	ret = send_verdict(m, MIG_REC_RESERVE_ACK, 0, "");
	return ret < 0 ? fail(m, ret, "sending RESERVE_ACK: %s", strerror(-ret)) : 0;
}

static bool rx_allowed(uint16_t type, enum mig_stage stage)
{
	for (size_t i = 0; i < sizeof(rx_rules) / sizeof(rx_rules[0]); i++)
		if (rx_rules[i].type == type)
			return rx_rules[i].stages & BIT(stage);
	return false;
}

static int dst_receive(struct migration *m)
{
	struct mig_rec rec;
	char err[300];
	int ret;

	for (;;) {
		ret = mig_recv(&m->io, &rec, m->rxbuf, MIG_MAX_BODY, err, sizeof(err));
		if (ret < 0) {
			if (ret == -EPIPE)
				return fail(m, ret, "the source closed the connection before the end of the stream");
			return fail(m, ret, "bad stream: %s", err);
		}
		pthread_mutex_lock(&m->lock);
		m->p.bytes = m->io.bytes_in;
		m->p.pages = m->pages_total;
		pthread_mutex_unlock(&m->lock);
		if (rec.type == MIG_REC_CANCEL || rec.type == MIG_REC_ERROR) {
			struct mig_verdict v;
			if (mig_parse_verdict(rec.body, rec.len, &v, err, sizeof(err)) < 0)
				return fail(m, -EPROTO, "bad stream: %s", err);
			if (rec.type == MIG_REC_CANCEL)
				return fail(m, -ECANCELED, "the source cancelled the migration (%s)", v.reason);
			return fail(m, -EIO, "the source failed: %s", v.reason);
		}
		if (!rx_allowed(rec.type, m->p.stage))
			return fail(m, -EPROTO, "bad stream: record %s not allowed in stage %s", mig_rec_name(rec.type),
				    mig_stage_name(m->p.stage));
		switch (rec.type) {
		case MIG_REC_ROUND: {
			if (rec.len != 4)
				return fail(m, -EPROTO, "bad stream: ROUND record of %u bytes", rec.len);
			uint32_t round = mig_get32(rec.body);
			if (m->rx_round_seen ? round != m->rx_round + 1 : round != 0)
				return fail(m, -EPROTO, "bad stream: round %u after round %u", round, m->rx_round);
			m->rx_round = round;
			m->rx_round_seen = true;
			if (m->p.stage == MIG_STAGE_RESERVATION)
				set_stage(m, MIG_STAGE_PRECOPY);
			pthread_mutex_lock(&m->lock);
			m->p.round = round;
			pthread_mutex_unlock(&m->lock);
			break;
		}
		case MIG_REC_RAM:
			if ((ret = dst_ram(m, &rec)) < 0)
				return ret;
			break;
		case MIG_REC_DEVICE:
			if (m->p.stage == MIG_STAGE_PRECOPY)
				set_stage(m, MIG_STAGE_STOP_AND_COPY);
			if ((ret = dst_device(m, &rec)) < 0)
				return ret;
			break;
		case MIG_REC_END:
			if (rec.len != MIG_END_LEN || mig_get64(rec.body) != m->pages_total)
				return fail(m, -EPROTO, "bad stream: END claims %" PRIu64 " pages, %" PRIu64 " received",
					    rec.len == MIG_END_LEN ? mig_get64(rec.body) : 0, m->pages_total);
			return 0;
		default: /* the accelerator's vCPU/VM state */
			if (m->p.stage == MIG_STAGE_PRECOPY)
				set_stage(m, MIG_STAGE_STOP_AND_COPY);
			if (!m->vm->accel->state_owns_record(rec.type))
				return fail(m, -EPROTO, "bad stream: %s is vCPU state of another accelerator than "
					    "this VMM's (%s)", mig_rec_name(rec.type), m->vm->accel->name);
			if ((ret = m->vm->accel->state_rx(m->vm, m->vstate, &rec, err, sizeof(err))) < 0)
				return fail(m, ret, "bad stream: %s", err);
			break;
		}
	}
}

static int dst_load(struct migration *m)
{
	struct mig_registry *reg = m->vm->mig_devices;
	char err[300];
	int ret;

	if ((ret = m->vm->accel->state_complete(m->vm, m->vstate, err, sizeof(err))) < 0)
		return fail(m, ret, "bad stream: %s", err);
	for (unsigned k = 0; k < reg->n; k++)
		if (!m->dev[k].have)
			return fail(m, -EPROTO, "bad stream: no state for device '%s'", reg->dev[k].ops->name);
	if ((ret = m->vm->accel->state_load(m->vm, m->vstate, err, sizeof(err))) < 0)
		return fail(m, ret, "loading vCPU state: %s", err);
	for (unsigned k = 0; k < reg->n; k++) {
		const struct mig_device_ops *ops = reg->dev[k].ops;
		ret = ops->load(reg->dev[k].opaque, m->dev[k].version, m->dev[k].data, m->dev[k].len, err, sizeof(err));
		if (ret < 0)
			return fail(m, ret, "device '%s' rejected its state: %s", ops->name, err);
	}
	return 0;
}

static void *dest_thread(void *arg)
{
	struct migration *m = arg;
	struct mig_rec rec;
	int ret, fd;

	do
		fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR && !atomic_load(&m->cancel));
	if (fd < 0) {
		ret = fail(m, -errno, "accept: %s", strerror(errno));
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	m->sock = fd;
	m->p.status = MIG_STATUS_ACTIVE;
	m->p.start_ns = now_ns();
	int lfd = m->listen_fd;
	m->listen_fd = -1;
	pthread_mutex_unlock(&m->lock);
	close(lfd);
	set_sock_timeouts(fd, DEST_IO_TIMEOUT_MS);
	log_info("migration: incoming: source connected");

	ret = dst_handshake(m);
	if (ret == 0)
		ret = dst_reservation(m);
	if (ret == 0)
		ret = dst_receive(m);
	if (ret == 0) {
		set_stage(m, MIG_STAGE_COMMITMENT);
		uint64_t t0 = now_ns();
		ret = dst_load(m);
		pthread_mutex_lock(&m->lock);
		m->p.load_ns = now_ns() - t0;
		pthread_mutex_unlock(&m->lock);
		if (ret == 0 && (ret = send_verdict(m, MIG_REC_READY, 0, "")) < 0)
			fail(m, ret, "sending READY: %s", strerror(-ret));
		if (ret == 0)
			ret = recv_expect(m, MIG_REC_COMMIT, &rec, "COMMIT from the source");
	}
	if (ret < 0 && m->sock >= 0 && ret != -EACCES) {
		/* Tell the source why, then let it read that before the close
		 * (an unread receive queue would turn the close into a reset
		 * that may destroy the message). */
		set_sock_timeouts(m->sock, 1000);
		send_verdict(m, MIG_REC_ERROR, ret, m->p.error);
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
	notify_main(m);
	return NULL;
}

/* ---- main thread ----------------------------------------------------------------- */

static void dest_activate(struct migration *m)
{
	struct mig_registry *reg = m->vm->mig_devices;
	uint8_t act[MIG_ACTIVATED_LEN];

	set_stage(m, MIG_STAGE_ACTIVATION);
	for (unsigned k = 0; k < reg->n; k++)
		if (reg->dev[k].ops->activate)
			reg->dev[k].ops->activate(reg->dev[k].opaque);
	uint64_t resume = now_ns();
	vm_start_vcpus(m->vm);
	pthread_mutex_lock(&m->lock);
	m->p.resume_ns = resume;
	m->p.stage_ns[MIG_STAGE_ACTIVATION] = now_ns() - m->stage_start_ns;
	m->p.end_ns = now_ns();
	m->p.status = MIG_STATUS_COMPLETED;
	pthread_mutex_unlock(&m->lock);
	mig_put64(act, resume);
	mig_put64(act + 8, m->p.load_ns);
	mig_put64(act + 16, 0);
	set_sock_timeouts(m->sock, 1000);
	if (mig_send(&m->io, MIG_REC_ACTIVATED, act, sizeof(act)) < 0)
		log_warn("migration: could not confirm activation to the source");
	fprintf(stderr, "compsc-vmm: incoming migration complete: the VM runs here (%" PRIu64 " pages received, "
		"state loaded in %.1f ms)\n", m->pages_total, (double)m->p.load_ns / 1e6);
}

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
			dest_activate(m);
		if (m->hooks.changed)
			m->hooks.changed(m->hooks.opaque);
		struct mig_progress p;
		mig_get_progress(m->vm, &p);
		if (p.source && p.status == MIG_STATUS_COMPLETED) {
			fprintf(stderr, "compsc-vmm: migration completed in %.1f ms (downtime %.1f ms, %u rounds, "
				"%.1f MiB sent); the VM now runs at %s\n", (double)(p.end_ns - p.start_ns) / 1e6,
				(double)p.downtime_ns / 1e6, p.n_rounds, (double)p.bytes / 1048576.0, p.peer);
			vm_request_exit(m->vm, 0);
		} else if (p.source) {
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

int mig_init(struct vm *vm, const char *token, const struct mig_hooks *hooks)
{
	struct migration *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->vm = vm;
	snprintf(m->token, sizeof(m->token), "%s", token);
	if (hooks)
		m->hooks = *hooks;
	m->sock = m->listen_fd = -1;
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
	free(m->rxbuf);
	free(m->txbuf);
	free(m->bitmap);
	free(m->scratch);
	free(m->touched);
	free(m);
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
	if (m->sock >= 0)
		close(m->sock);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	for (unsigned k = 0; k < MIG_MAX_DEVICES; k++)
		free(m->dev[k].data);
	if (m->vstate)
		vm->accel->state_free(m->vstate);
	free(m->rxbuf);
	free(m->txbuf);
	free(m->bitmap);
	free(m->scratch);
	free(m->touched);
	free(m);
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
	if (params->max_rounds >= MIG_ROUNDS_KEPT - 1) {
		snprintf(err, errlen, "max-rounds must be below %u", MIG_ROUNDS_KEPT - 1);
		return -EINVAL;
	}
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
	mig_io_fd(&m->io, &m->sock);
	m->bytes_at_start = 0;
	int ret = pthread_create(&m->thread, NULL, source_thread, m);
	if (ret) {
		m->p.status = MIG_STATUS_FAILED;
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

	if (!m || !m->thread_live || !m->p.source) {
		snprintf(err, errlen, "no outgoing migration is in progress");
		return -EALREADY;
	}
	pthread_mutex_lock(&m->lock);
	if (m->committed) {
		pthread_mutex_unlock(&m->lock);
		snprintf(err, errlen, "too late: the migration is committed, the destination owns the VM");
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
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0) {
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
	for (uint64_t pfn = 0; pfn < CSC_RESERVED_END / MIG_PAGE_SIZE && pfn < vm->n_pages; pfn++)
		m->touched[pfn / 64] |= 1ull << (pfn % 64);
	ret = pthread_create(&m->thread, NULL, dest_thread, m);
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
