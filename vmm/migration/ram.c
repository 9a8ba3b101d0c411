/* Guest memory on the wire.
 *
 * Source: pages are grouped into runs of consecutive pages of one kind and
 * sent as RAM records (docs/migration-stream.md):
 *
 *   RAM  u64 gpa | u32 count | u32 flags | count x 4096 bytes   data run, count <= 64
 *   RAM  u64 gpa | u32 count | u32 ZERO                          zero run, count <= 65536
 *
 * Round 0 walks the memfd with SEEK_DATA/SEEK_HOLE, so never-touched
 * pages go as zero runs without being read; later rounds walk a dirty
 * bitmap. A bandwidth cap throttles the stream, and the destination's
 * ERROR records are looked for now and then while sending.
 *
 * Destination: a RAM record's pages go into guest memory; a zero run
 * clears only the pages written since the VM was created (`touched`), the
 * rest are still holes. */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../vm.h"

#define ZERO_RUN_MAX (1u << 16)		/* pages per zero RAM record */
#define POLL_EVERY_RECORDS 16		/* source: look for a destination ERROR */

/* ---- source -------------------------------------------------------------------- */

struct run {
	uint64_t first;
	uint32_t n;
	bool zero;
};

bool mig_page_is_zero(const uint8_t *p)
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
		int ret = mig_check_cancel(m);
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
	int ret = mig_recv_expect(m, MIG_REC_READY, &rec, "the destination");
	if (ret < 0)
		return ret;
	return mig_fail(m, -EPROTO, "the destination sent READY before the end of the stream");
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
			return mig_fail(m, -ECANCELED, "cancelled");
		return mig_fail(m, ret, "sending guest memory: %s",
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
	if ((ret = mig_check_cancel(m)) < 0)
		return ret;
	return throttle(m);
}

static int add_page(struct migration *m, struct run *r, uint64_t pfn, struct mig_round *st)
{
	const uint8_t *src = m->vm->ram + pfn * MIG_PAGE_SIZE;
	bool zero = mig_page_is_zero(src);
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
	mig_dma_copy_sent(m, pfn, zero ? NULL : m->txbuf + (size_t)r->n * MIG_PAGE_SIZE);
	r->n++;
	return 0;
}

static int add_zero_range(struct migration *m, struct run *r, uint64_t pfn, uint64_t count, struct mig_round *st)
{
	int ret = flush_run(m, r, st);

	if (ret == 0)
		mig_dma_copy_sent_zero(m, pfn, count);
	while (ret == 0 && count) {
		uint32_t n = count > ZERO_RUN_MAX ? ZERO_RUN_MAX : (uint32_t)count;
		*r = (struct run){ .first = pfn, .n = n, .zero = true };
		ret = flush_run(m, r, st);
		pfn += n;
		count -= n;
	}
	return ret;
}

int mig_ram_send_bitmap(struct migration *m, const uint64_t *bitmap, struct mig_round *st)
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
int mig_ram_send_all(struct migration *m, struct mig_round *st)
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

int mig_ram_send_round_marker(struct migration *m, uint32_t round)
{
	uint8_t b[4];

	mig_put32(b, round);
	int ret = mig_send(&m->io, MIG_REC_ROUND, b, sizeof(b));
	return ret < 0 ? mig_fail(m, ret, "sending: %s", strerror(-ret)) : 0;
}

void mig_ram_round_done(struct migration *m, struct mig_round *st, uint64_t t0)
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

/* ---- destination -----------------------------------------------------------------
 *
 * The destination's cost is writing pages into memory it has never
 * touched (page allocation, and on a virtualised host the host's own
 * first-touch fault): on the machines measured (docs/migration-stream.md)
 * that is 2-4 times the cost of receiving the bytes. So it runs on a
 * writer thread of its own, while the migration thread receives and
 * checks the next records:
 *
 *   migration thread: mig_recv into slot[head] -> CRC, parse -> head++  --+
 *                                                                          | in order
 *   writer thread:                  slot[tail] -> guest memory -> tail++ <-+
 *
 * A slot holds one record's body; the order of the queue is the order of
 * the stream, so a zero run never overtakes an earlier write of the same
 * page. Whoever needs the pages in place (SYNC, END) drains the queue. */

static bool page_touched(struct migration *m, uint64_t pfn)
{
	return m->touched[pfn / 64] & (1ull << (pfn % 64));
}

static int apply_run(struct migration *m, const struct mig_ram *r)
{
	uint64_t pfn0 = r->gpa / MIG_PAGE_SIZE;

	if (r->data) {
		/* Written through the memfd rather than the mapping: whole
		 * pages go straight into the page cache, without a page fault
		 * and a clear_page each. */
		size_t len = (size_t)r->count * MIG_PAGE_SIZE, done = 0;
		while (done < len) {
			ssize_t n = pwrite(m->vm->ram_fd, r->data + done, len - done, (off_t)(r->gpa + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return mig_fail(m, n < 0 ? -errno : -EIO, "writing guest memory at 0x%" PRIx64 ": %s",
						r->gpa + done, n < 0 ? strerror(errno) : "short write");
			done += (size_t)n;
		}
		mig_ram_mark_touched(m, pfn0, r->count);
	} else {
		/* Untouched pages are still holes: reading them gives zeros. */
		for (uint32_t i = 0; i < r->count; i++)
			if (page_touched(m, pfn0 + i))
				memset(m->vm->ram + (pfn0 + i) * MIG_PAGE_SIZE, 0, MIG_PAGE_SIZE);
	}
	return 0;
}

static void *writer_thread(void *arg)
{
	struct migration *m = arg;
	struct ram_rx *rx = &m->rx;

	pthread_mutex_lock(&rx->lock);
	for (;;) {
		while (!rx->stop && rx->tail == rx->head)
			pthread_cond_wait(&rx->work, &rx->lock);
		if (rx->tail == rx->head)
			break;
		unsigned slot = rx->tail % RAM_RX_SLOTS;
		bool skip = rx->error < 0;
		pthread_mutex_unlock(&rx->lock);
		/* After a failure the rest is dropped: the VM will not run. */
		int ret = skip ? 0 : apply_run(m, &rx->run[slot]);
		pthread_mutex_lock(&rx->lock);
		if (ret < 0 && rx->error == 0)
			rx->error = ret;
		rx->tail++;
		pthread_cond_broadcast(&rx->room);
	}
	pthread_mutex_unlock(&rx->lock);
	return NULL;
}

static void rx_free(struct ram_rx *rx)
{
	pthread_mutex_destroy(&rx->lock);
	pthread_cond_destroy(&rx->work);
	pthread_cond_destroy(&rx->room);
	for (unsigned i = 0; i < RAM_RX_SLOTS; i++)
		free(rx->buf[i]);
	rx->live = false;
}

int mig_ram_rx_start(struct migration *m)
{
	struct ram_rx *rx = &m->rx;
	int ret = 0;

	*rx = (struct ram_rx){ 0 };
	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->work, NULL);
	pthread_cond_init(&rx->room, NULL);
	for (unsigned i = 0; i < RAM_RX_SLOTS; i++)
		if (!(rx->buf[i] = malloc(MIG_MAX_BODY)))
			ret = ENOMEM;
	if (ret == 0)
		ret = pthread_create(&rx->thread, NULL, writer_thread, m);
	if (ret) {
		rx_free(rx);
		return mig_fail(m, -ret, "cannot start the memory writer thread: %s", strerror(ret));
	}
	rx->live = true;
	return 0;
}

uint8_t *mig_ram_rx_buffer(struct migration *m)
{
	struct ram_rx *rx = &m->rx;
	uint8_t *buf;

	pthread_mutex_lock(&rx->lock);
	while (rx->head - rx->tail == RAM_RX_SLOTS)
		pthread_cond_wait(&rx->room, &rx->lock);
	buf = rx->buf[rx->head % RAM_RX_SLOTS];
	pthread_mutex_unlock(&rx->lock);
	return buf;
}

int mig_ram_receive(struct migration *m, const struct mig_rec *rec)
{
	struct ram_rx *rx = &m->rx;
	struct mig_ram r;
	char err[300];
	int ret = mig_parse_ram(rec->body, rec->len, m->vm->ram_size, &r, err, sizeof(err));

	if (ret < 0)
		return mig_fail(m, ret, "bad stream: %s", err);
	m->pages_total += r.count;
	pthread_mutex_lock(&rx->lock);
	/* rec->body is the buffer of slot head (mig_ram_rx_buffer). */
	rx->run[rx->head % RAM_RX_SLOTS] = r;
	rx->head++;
	ret = rx->error;
	pthread_cond_signal(&rx->work);
	pthread_mutex_unlock(&rx->lock);
	return ret;
}

int mig_ram_rx_drain(struct migration *m)
{
	struct ram_rx *rx = &m->rx;
	int ret;

	pthread_mutex_lock(&rx->lock);
	while (rx->tail != rx->head)
		pthread_cond_wait(&rx->room, &rx->lock);
	ret = rx->error;
	pthread_mutex_unlock(&rx->lock);
	return ret;
}

void mig_ram_rx_stop(struct migration *m)
{
	struct ram_rx *rx = &m->rx;

	if (!rx->live)
		return;
	pthread_mutex_lock(&rx->lock);
	rx->stop = true;
	pthread_cond_signal(&rx->work);
	pthread_mutex_unlock(&rx->lock);
	pthread_join(rx->thread, NULL);
	rx_free(rx);
}

void mig_ram_mark_touched(struct migration *m, uint64_t first_pfn, uint64_t n)
{
	for (uint64_t pfn = first_pfn; pfn < first_pfn + n && pfn < m->vm->n_pages; pfn++)
		m->touched[pfn / 64] |= 1ull << (pfn % 64);
}
