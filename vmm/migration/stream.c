/* Migration stream framing, record protection and record bodies (format
 * in stream.h and docs/migration-stream.md). Nothing here touches KVM:
 * unit tests drive it with byte buffers. */
#include "stream.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/log.h"

static const struct {
	uint16_t type;
	const char *name;
} rec_names[] = {
	{ MIG_REC_HELLO, "HELLO" }, { MIG_REC_HELLO_ACK, "HELLO_ACK" }, { MIG_REC_AUTH, "AUTH" },
	{ MIG_REC_RESERVE, "RESERVE" }, { MIG_REC_RESERVE_ACK, "RESERVE_ACK" },
	{ MIG_REC_ROUND, "ROUND" }, { MIG_REC_RAM, "RAM" },
	{ MIG_REC_SYNC, "SYNC" },
	{ MIG_REC_CPU_MP_STATE, "CPU_MP_STATE" }, { MIG_REC_CPU_REGS, "CPU_REGS" },
	{ MIG_REC_CPU_SREGS, "CPU_SREGS" }, { MIG_REC_CPU_XSAVE, "CPU_XSAVE" },
	{ MIG_REC_CPU_XCRS, "CPU_XCRS" }, { MIG_REC_CPU_DEBUGREGS, "CPU_DEBUGREGS" },
	{ MIG_REC_CPU_LAPIC, "CPU_LAPIC" }, { MIG_REC_CPU_MSRS, "CPU_MSRS" },
	{ MIG_REC_CPU_EVENTS, "CPU_EVENTS" }, { MIG_REC_PROC_VCPU, "PROC_VCPU" }, { MIG_REC_VM_CLOCK, "VM_CLOCK" },
	{ MIG_REC_VM_IRQCHIP, "VM_IRQCHIP" }, { MIG_REC_DEVICE, "DEVICE" }, { MIG_REC_END, "END" },
	{ MIG_REC_READY, "READY" }, { MIG_REC_COMMIT, "COMMIT" }, { MIG_REC_LATE_DEVICE, "LATE_DEVICE" }, { MIG_REC_ACTIVATED, "ACTIVATED" },
	{ MIG_REC_ERROR, "ERROR" }, { MIG_REC_CANCEL, "CANCEL" },
};

const char *mig_rec_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(rec_names) / sizeof(rec_names[0]); i++)
		if (rec_names[i].type == type)
			return rec_names[i].name;
	return "unknown";
}

bool mig_rec_known(uint16_t type)
{
	return strcmp(mig_rec_name(type), "unknown") != 0;
}

/* ---- CRC32C ------------------------------------------------------------ */

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
}

/* The hardware CRC instruction has a latency of 3 cycles and a throughput
 * of 1: one dependency chain uses a third of it. Large buffers are done in
 * blocks of three lanes computed side by side, then combined: advancing a
 * CRC register over LANE zero bytes is linear over GF(2), so it is four
 * table lookups (lane_shift). */
#define LANE 4096u

static uint32_t lane_shift_table[4][256];

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_simple(uint32_t crc, const uint8_t *p, size_t len)
{
	uint64_t c = crc;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

static void lane_shift_init(void)
{
	static const uint8_t zeros[LANE];
	uint32_t basis[32];

	for (int bit = 0; bit < 32; bit++)
		basis[bit] = crc32c_hw_simple(1u << bit, zeros, LANE);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int bit = 0; bit < 8; bit++)
				if (b & (1u << bit))
					v ^= basis[8 * k + bit];
			lane_shift_table[k][b] = v;
		}
}

static uint32_t lane_shift(uint32_t v)
{
	return lane_shift_table[0][v & 0xff] ^ lane_shift_table[1][(v >> 8) & 0xff] ^
	       lane_shift_table[2][(v >> 16) & 0xff] ^ lane_shift_table[3][v >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len >= 3 * LANE) {
		uint64_t a = crc, b = 0, c = 0;
		for (size_t i = 0; i < LANE; i += 8) {
			uint64_t x, y, z;
			memcpy(&x, p + i, 8);
			memcpy(&y, p + LANE + i, 8);
			memcpy(&z, p + 2 * LANE + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			c = __builtin_ia32_crc32di(c, z);
		}
		crc = lane_shift(lane_shift((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
		p += 3 * LANE;
		len -= 3 * LANE;
	}
	return crc32c_hw_simple(crc, p, len);
}

static int have_hw = -1;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	crc_table_init();
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (have_hw)
		lane_shift_init();
}

uint32_t mig_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	if (have_hw)
		crc = crc32c_hw(crc, p, len);
	else
		while (len--)
			crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- transports ---------------------------------------------------------- */

static int mem_read(void *ctx, void *buf, size_t len)
{
	struct mig_membuf *mb = ctx;

	if (len > mb->len - mb->pos)
		return -EPIPE;
	memcpy(buf, mb->data + mb->pos, len);
	mb->pos += len;
	return 0;
}

static int mem_writev(void *ctx, struct iovec *iov, int n)
{
	struct mig_membuf *mb = ctx;

	for (int i = 0; i < n; i++) {
		if (iov[i].iov_len == 0)
			continue;	/* nothing to copy (and mb->data may still be NULL) */
		if (iov[i].iov_len > mb->cap - mb->len) {
			size_t cap = (mb->cap + iov[i].iov_len) * 2;
			uint8_t *d = realloc(mb->data, cap);
			if (!d)
				return -ENOMEM;
			mb->data = d;
			mb->cap = cap;
		}
		memcpy(mb->data + mb->len, iov[i].iov_base, iov[i].iov_len);
		mb->len += iov[i].iov_len;
	}
	return 0;
}

void mig_io_mem(struct mig_io *io, struct mig_membuf *mb)
{
	*io = (struct mig_io){ .read = mem_read, .writev = mem_writev, .ctx = mb };
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* With a read deadline, every recv waits in poll for at most what is left
 * of it: a peer that trickles a byte now and then cannot stretch it. */
static int fd_wait_readable(const struct mig_io *io)
{
	for (;;) {
		uint64_t now = mono_ns();
		if (now >= io->read_deadline_ns)
			return -ETIMEDOUT;
		uint64_t left_ms = (io->read_deadline_ns - now + 999999) / 1000000;
		struct pollfd pfd = { .fd = *io->fd, .events = POLLIN };
		int n = poll(&pfd, 1, left_ms > 60000 ? 60000 : (int)left_ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int fd_read(void *ctx, void *buf, size_t len)
{
	const struct mig_io *io = ctx;
	uint8_t *p = buf;

	while (len) {
		if (io->read_deadline_ns) {
			int ret = fd_wait_readable(io);
			if (ret < 0)
				return ret;
		}
		ssize_t n = recv(*io->fd, p, len, 0);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fd_writev(void *ctx, struct iovec *iov, int n)
{
	int fd = *((const struct mig_io *)ctx)->fd;

	while (n > 0) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* The transport's context is the mig_io itself (descriptor and deadline):
 * io must stay where it is. */
void mig_io_fd(struct mig_io *io, int *fd)
{
	*io = (struct mig_io){ .read = fd_read, .writev = fd_writev, .ctx = io, .fd = fd };
}

/* ---- record protection ---------------------------------------------------------
 *
 * AES-256-GCM, one key per direction (mig_derive_keys), the nonce the
 * direction's record counter: a key never sees a nonce twice, and the
 * receiver's own counter is what opens the next record, so a record
 * dropped, replayed or moved fails its tag like one altered. The header
 * stays readable (the reader needs the length before the body) and is
 * authenticated as AAD. */

static void seal_free(struct mig_seal *s)
{
	EVP_CIPHER_CTX_free(s->cipher);
	free(s->buf);
	*s = (struct mig_seal){ .mode = MIG_SEAL_CRC };
}

void mig_io_clear_keys(struct mig_io *io)
{
	seal_free(&io->tx);
	seal_free(&io->rx);
}

int mig_io_set_key(struct mig_io *io, bool tx, const uint8_t key[MIG_KEY_LEN])
{
	struct mig_seal *s = tx ? &io->tx : &io->rx;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t *buf = tx ? malloc(MIG_MAX_BODY) : NULL;

	if (!c || (tx && !buf) ||
	    (tx ? EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL)
		: EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL)) != 1) {
		EVP_CIPHER_CTX_free(c);
		free(buf);
		return -ENOMEM;
	}
	seal_free(s);
	*s = (struct mig_seal){ .mode = MIG_SEAL_GCM, .cipher = c, .buf = buf };
	return 0;
}

static void seal_nonce(uint8_t iv[12], uint64_t seq)
{
	mig_put32(iv, 0);
	mig_put64(iv + 4, seq);
}

/* Encrypts the body's pieces into s->buf and computes the tag. */
static int seal(struct mig_seal *s, const uint8_t hdr[MIG_HDR_LEN], const struct iovec *body, int n,
		uint8_t tag[MIG_TAG_LEN])
{
	uint8_t iv[12];
	int outl, off = 0;

	if (s->seq == UINT64_MAX)
		return -EOVERFLOW;
	seal_nonce(iv, s->seq);
	if (EVP_EncryptInit_ex(s->cipher, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(s->cipher, NULL, &outl, hdr, MIG_HDR_LEN) != 1)
		return -EIO;
	for (int i = 0; i < n; i++) {
		if (!body[i].iov_len)
			continue;
		if (EVP_EncryptUpdate(s->cipher, s->buf + off, &outl, body[i].iov_base, (int)body[i].iov_len) != 1)
			return -EIO;
		off += outl;
	}
	if (EVP_EncryptFinal_ex(s->cipher, s->buf + off, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->cipher, EVP_CTRL_GCM_GET_TAG, MIG_TAG_LEN, tag) != 1)
		return -EIO;
	s->seq++;
	return 0;
}

/* Decrypts body in place; -EBADMSG unless the tag matches. The plaintext
 * is not looked at unless it does. */
static int open_sealed(struct mig_seal *s, const uint8_t hdr[MIG_HDR_LEN], uint8_t *body, uint32_t len,
		       uint8_t tag[MIG_TAG_LEN])
{
	uint8_t iv[12];
	int outl;

	if (s->seq == UINT64_MAX)
		return -EOVERFLOW;
	seal_nonce(iv, s->seq);
	if (EVP_DecryptInit_ex(s->cipher, NULL, NULL, NULL, iv) != 1 ||
	    EVP_DecryptUpdate(s->cipher, NULL, &outl, hdr, MIG_HDR_LEN) != 1 ||
	    (len && EVP_DecryptUpdate(s->cipher, body, &outl, body, (int)len) != 1) ||
	    EVP_CIPHER_CTX_ctrl(s->cipher, EVP_CTRL_GCM_SET_TAG, MIG_TAG_LEN, tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(s->cipher, body + len, &outl) != 1)
		return -EBADMSG;
	s->seq++;
	return 0;
}

int mig_derive_keys(const void *secret, size_t secret_len, const uint8_t nonce_s[16], const uint8_t nonce_d[16],
		    uint8_t k_sd[MIG_KEY_LEN], uint8_t k_ds[MIG_KEY_LEN])
{
	static const char *const info[2] = { "compsc-mig v2 source->destination", "compsc-mig v2 destination->source" };
	uint8_t salt[2 * MIG_NONCE_LEN];
	uint8_t *out[2] = { k_sd, k_ds };
	int ret = 0;

	memcpy(salt, nonce_s, MIG_NONCE_LEN);
	memcpy(salt + MIG_NONCE_LEN, nonce_d, MIG_NONCE_LEN);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!kc)
		return -ENOSYS;
	for (int i = 0; i < 2 && ret == 0; i++) {
		OSSL_PARAM p[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
			OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len),
			OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt)),
			OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info[i], strlen(info[i])),
			OSSL_PARAM_construct_end(),
		};
		if (EVP_KDF_derive(kc, out[i], MIG_KEY_LEN, p) != 1)
			ret = -EIO;
	}
	EVP_KDF_CTX_free(kc);
	return ret;
}

/* ---- framing --------------------------------------------------------------- */

int mig_write_preamble(struct mig_io *io, uint32_t direction)
{
	uint8_t p[MIG_PREAMBLE_LEN];
	struct iovec iov = { p, sizeof(p) };

	memcpy(p, MIG_MAGIC, MIG_MAGIC_LEN);
	mig_put32(p + 8, MIG_VERSION);
	mig_put32(p + 12, direction);
	io->bytes_out += sizeof(p);
	return io->writev(io->ctx, &iov, 1);
}

int mig_read_preamble(struct mig_io *io, uint32_t direction, char *err, size_t errlen)
{
	uint8_t p[MIG_PREAMBLE_LEN];
	int ret = io->read(io->ctx, p, sizeof(p));

	if (ret < 0) {
		snprintf(err, errlen, "stream preamble: %s", ret == -EPIPE ? "connection closed" : strerror(-ret));
		return ret;
	}
	io->bytes_in += sizeof(p);
	if (memcmp(p, MIG_MAGIC, MIG_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "bad stream magic: not a CompSC migration stream");
		return -EPROTO;
	}
	if (mig_get32(p + 8) != MIG_VERSION) {
		snprintf(err, errlen, "unsupported stream version %u (this side speaks %u)", mig_get32(p + 8),
			 MIG_VERSION);
		return -EPROTO;
	}
	if (mig_get32(p + 12) != direction) {
		snprintf(err, errlen, "stream direction %u, expected %u", mig_get32(p + 12), direction);
		return -EPROTO;
	}
	return 0;
}

int mig_sendv(struct mig_io *io, uint16_t type, struct iovec *body, int n)
{
	uint8_t hdr[MIG_HDR_LEN], trailer[MIG_TRAILER_MAX];
	struct iovec iov[8];
	uint64_t len = 0;
	size_t tlen;
	int ret;

	if (n > 6)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		len += body[i].iov_len;
	if (len > MIG_MAX_BODY)
		return -EMSGSIZE;
	mig_put16(hdr, type);
	mig_put16(hdr + 2, MIG_F_MANDATORY);
	mig_put32(hdr + 4, (uint32_t)len);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	if (io->tx.mode == MIG_SEAL_GCM) {
		if ((ret = seal(&io->tx, hdr, body, n, trailer)) < 0)
			return ret;
		iov[1] = (struct iovec){ io->tx.buf, (size_t)len };
		n = 1;
		tlen = MIG_TAG_LEN;
	} else {
		uint32_t crc = mig_crc32c(0, hdr, sizeof(hdr));
		for (int i = 0; i < n; i++) {
			crc = mig_crc32c(crc, body[i].iov_base, body[i].iov_len);
			iov[i + 1] = body[i];
		}
		mig_put32(trailer, crc);
		tlen = MIG_CRC_LEN;
	}
	iov[n + 1] = (struct iovec){ trailer, tlen };
	io->bytes_out += MIG_HDR_LEN + len + tlen;
	return io->writev(io->ctx, iov, n + 2);
}

int mig_send(struct mig_io *io, uint16_t type, const void *body, uint32_t len)
{
	struct iovec iov = { (void *)body, len };

	return mig_sendv(io, type, &iov, len ? 1 : 0);
}

int mig_recv(struct mig_io *io, struct mig_rec *rec, uint8_t *buf, size_t cap, char *err, size_t errlen)
{
	uint8_t hdr[MIG_HDR_LEN], trailer[MIG_TRAILER_MAX];
	bool sealed = io->rx.mode == MIG_SEAL_GCM;
	size_t tlen = sealed ? MIG_TAG_LEN : MIG_CRC_LEN;
	int ret;

	for (;;) {
		ret = io->read(io->ctx, hdr, sizeof(hdr));
		if (ret < 0) {
			snprintf(err, errlen, "reading a record header: %s",
				 ret == -EPIPE ? "stream ended (connection closed)" : strerror(-ret));
			return ret;
		}
		rec->type = mig_get16(hdr);
		rec->flags = mig_get16(hdr + 2);
		rec->len = mig_get32(hdr + 4);
		/* Checked before a single body byte is read. */
		if (rec->len > MIG_MAX_BODY || rec->len > cap) {
			snprintf(err, errlen, "record type 0x%04x claims %u bytes (limit %u)", rec->type,
				 rec->len, (unsigned)(cap < MIG_MAX_BODY ? cap : MIG_MAX_BODY));
			return -EMSGSIZE;
		}
		if (rec->flags & ~MIG_F_KNOWN) {
			snprintf(err, errlen, "record type 0x%04x has unknown flags 0x%04x", rec->type,
				 rec->flags);
			return -EPROTO;
		}
		ret = io->read(io->ctx, buf, rec->len);
		if (ret >= 0)
			ret = io->read(io->ctx, trailer, tlen);
		if (ret < 0) {
			snprintf(err, errlen, "record %s (%u bytes) truncated: %s", mig_rec_name(rec->type),
				 rec->len, ret == -EPIPE ? "stream ended" : strerror(-ret));
			return ret == -EPIPE ? -EPROTO : ret;
		}
		io->bytes_in += MIG_HDR_LEN + rec->len + tlen;
		if (sealed) {
			uint64_t seq = io->rx.seq;
			if ((ret = open_sealed(&io->rx, hdr, buf, rec->len, trailer)) < 0) {
				snprintf(err, errlen, "record %s (%u bytes, number %llu of this direction) fails "
					 "authentication: altered, forged, dropped, replayed or reordered on the way",
					 mig_rec_name(rec->type), rec->len, (unsigned long long)seq);
				return ret == -EBADMSG ? -EBADMSG : ret;
			}
		} else {
			uint32_t crc = mig_crc32c(mig_crc32c(0, hdr, sizeof(hdr)), buf, rec->len);
			if (crc != mig_get32(trailer)) {
				snprintf(err, errlen, "record %s (%u bytes): checksum mismatch (0x%08x, computed 0x%08x)",
					 mig_rec_name(rec->type), rec->len, mig_get32(trailer), crc);
				return -EBADMSG;
			}
		}
		rec->body = buf;
		if (mig_rec_known(rec->type))
			return 0;
		if (rec->flags & MIG_F_MANDATORY) {
			snprintf(err, errlen, "unknown mandatory record type 0x%04x", rec->type);
			return -EPROTO;
		}
		log_debug("migration: skipping unknown optional record 0x%04x (%u bytes)", rec->type, rec->len);
	}
}

/* ---- bodies ---------------------------------------------------------------- */

const char *const mig_cpuid_word_names[MIG_CPUID_WORDS] = {
	"1.ecx", "1.edx", "7.0.ebx", "7.0.ecx", "7.0.edx", "0xd.0.eax", "0xd.1.eax",
	"0x80000001.ecx", "0x80000001.edx",
};

void mig_encode_hello(uint8_t *buf, const struct mig_hello *h)
{
	memcpy(buf, h->nonce, MIG_NONCE_LEN);
	mig_put32(buf + 16, h->page_size);
	mig_put32(buf + 20, h->flags);
}

static int bad_len(const char *what, uint32_t len, uint32_t want, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s record: %u bytes, expected %u", what, len, want);
	return -EPROTO;
}

int mig_parse_hello(const uint8_t *body, uint32_t len, struct mig_hello *h, char *err, size_t errlen)
{
	if (len != MIG_HELLO_LEN)
		return bad_len("HELLO", len, MIG_HELLO_LEN, err, errlen);
	memcpy(h->nonce, body, MIG_NONCE_LEN);
	h->page_size = mig_get32(body + 16);
	h->flags = mig_get32(body + 20);
	if (h->page_size != MIG_PAGE_SIZE) {
		snprintf(err, errlen, "HELLO: page size %u, this side uses %u", h->page_size, MIG_PAGE_SIZE);
		return -EPROTO;
	}
	if (h->flags & ~(uint32_t)MIG_HELLO_KNOWN) {
		snprintf(err, errlen, "HELLO: unknown flags 0x%x", h->flags);
		return -EPROTO;
	}
	return 0;
}

/* The reason is printable ASCII once parsed: it ends up in logs. */
static void copy_reason(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < MIG_REASON_LEN - 1 && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[i] = '\0';
}

uint32_t mig_encode_verdict(uint8_t *buf, const struct mig_verdict *v)
{
	size_t n = strnlen(v->reason, MIG_REASON_LEN - 1);

	mig_put32(buf, (uint32_t)v->status);
	mig_put32(buf + 4, (uint32_t)n);
	memcpy(buf + 8, v->reason, n);
	return (uint32_t)(8 + n);
}

int mig_parse_verdict(const uint8_t *body, uint32_t len, struct mig_verdict *v, char *err, size_t errlen)
{
	if (len < 8) {
		snprintf(err, errlen, "verdict record: %u bytes, at least 8 expected", len);
		return -EPROTO;
	}
	uint32_t n = mig_get32(body + 4);
	if (n != len - 8 || n >= MIG_REASON_LEN) {
		snprintf(err, errlen, "verdict record: reason length %u does not fit %u bytes", n, len);
		return -EPROTO;
	}
	v->status = (int32_t)mig_get32(body);
	if (v->status > 0 || v->status < -4095) {
		snprintf(err, errlen, "verdict record: status %d is not 0 or -errno", v->status);
		return -EPROTO;
	}
	copy_reason(v->reason, body + 8, n);
	return 0;
}

uint32_t mig_encode_hello_ack(uint8_t *buf, const struct mig_hello_ack *a)
{
	memcpy(buf, a->nonce, MIG_NONCE_LEN);
	memcpy(buf + MIG_NONCE_LEN, a->mac, MIG_MAC_LEN);
	return MIG_NONCE_LEN + MIG_MAC_LEN + mig_encode_verdict(buf + MIG_NONCE_LEN + MIG_MAC_LEN, &a->v);
}

int mig_parse_hello_ack(const uint8_t *body, uint32_t len, struct mig_hello_ack *a, char *err, size_t errlen)
{
	if (len < MIG_NONCE_LEN + MIG_MAC_LEN) {
		snprintf(err, errlen, "HELLO_ACK record: %u bytes is too short", len);
		return -EPROTO;
	}
	memcpy(a->nonce, body, MIG_NONCE_LEN);
	memcpy(a->mac, body + MIG_NONCE_LEN, MIG_MAC_LEN);
	return mig_parse_verdict(body + MIG_NONCE_LEN + MIG_MAC_LEN, len - MIG_NONCE_LEN - MIG_MAC_LEN,
				 &a->v, err, errlen);
}

bool mig_dev_name_valid(const char *name)
{
	size_t n = strnlen(name, MIG_DEV_NAME_LEN);

	if (n == 0 || n == MIG_DEV_NAME_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int parse_dev_desc(const uint8_t *p, struct mig_dev_desc *d, char *err, size_t errlen)
{
	memcpy(d->name, p, MIG_DEV_NAME_LEN);
	if (!mig_dev_name_valid(d->name)) {
		d->name[MIG_DEV_NAME_LEN - 1] = '\0';
		snprintf(err, errlen, "device name is not a NUL-terminated [a-z0-9_-] string");
		return -EPROTO;
	}
	d->version = mig_get32(p + MIG_DEV_NAME_LEN);
	return 0;
}

uint32_t mig_encode_reserve(uint8_t *buf, const struct mig_reserve *r)
{
	mig_put64(buf, r->ram_size);
	mig_put32(buf + 8, r->n_vcpus);
	mig_put32(buf + 12, r->n_devices);
	for (int i = 0; i < MIG_CPUID_WORDS; i++)
		mig_put32(buf + 16 + 4 * i, r->cpuid.w[i]);
	uint8_t *p = buf + MIG_RESERVE_HDR_LEN;
	for (uint32_t i = 0; i < r->n_devices; i++, p += MIG_DEV_NAME_LEN + 4) {
		memset(p, 0, MIG_DEV_NAME_LEN);
		memcpy(p, r->dev[i].name, strnlen(r->dev[i].name, MIG_DEV_NAME_LEN - 1));
		mig_put32(p + MIG_DEV_NAME_LEN, r->dev[i].version);
	}
	return (uint32_t)(p - buf);
}

int mig_parse_reserve(const uint8_t *body, uint32_t len, struct mig_reserve *r, char *err, size_t errlen)
{
	if (len < MIG_RESERVE_HDR_LEN) {
		snprintf(err, errlen, "RESERVE record: %u bytes is too short", len);
		return -EPROTO;
	}
	r->ram_size = mig_get64(body);
	r->n_vcpus = mig_get32(body + 8);
	r->n_devices = mig_get32(body + 12);
	for (int i = 0; i < MIG_CPUID_WORDS; i++)
		r->cpuid.w[i] = mig_get32(body + 16 + 4 * i);
	if (r->n_devices > MIG_MAX_DEVICES) {
		snprintf(err, errlen, "RESERVE record: %u devices (limit %u)", r->n_devices, MIG_MAX_DEVICES);
		return -EPROTO;
	}
	uint32_t want = MIG_RESERVE_HDR_LEN + r->n_devices * (MIG_DEV_NAME_LEN + 4);
	if (len != want)
		return bad_len("RESERVE", len, want, err, errlen);
	for (uint32_t i = 0; i < r->n_devices; i++) {
		int ret = parse_dev_desc(body + MIG_RESERVE_HDR_LEN + i * (MIG_DEV_NAME_LEN + 4), &r->dev[i], err,
					 errlen);
		if (ret < 0)
			return ret;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(r->dev[j].name, r->dev[i].name) == 0) {
				snprintf(err, errlen, "RESERVE record: device '%s' listed twice", r->dev[i].name);
				return -EPROTO;
			}
	}
	return 0;
}

int mig_parse_ram(const uint8_t *body, uint32_t len, uint64_t ram_size, struct mig_ram *r, char *err,
		  size_t errlen)
{
	if (len < MIG_RAM_HDR_LEN) {
		snprintf(err, errlen, "RAM record: %u bytes is too short", len);
		return -EPROTO;
	}
	r->gpa = mig_get64(body);
	r->count = mig_get32(body + 8);
	r->flags = mig_get32(body + 12);
	if (r->flags & ~(uint32_t)MIG_RAM_ZERO) {
		snprintf(err, errlen, "RAM record: unknown flags 0x%x", r->flags);
		return -EPROTO;
	}
	if (r->gpa % MIG_PAGE_SIZE || r->count == 0) {
		snprintf(err, errlen, "RAM record: gpa 0x%llx count %u is not a page-aligned run",
			 (unsigned long long)r->gpa, r->count);
		return -EPROTO;
	}
	/* Overflow-safe: count < 2^32 pages, gpa checked first. */
	if (r->gpa >= ram_size || (uint64_t)r->count * MIG_PAGE_SIZE > ram_size - r->gpa) {
		snprintf(err, errlen, "RAM record: pages [0x%llx, +%u pages) lie outside guest RAM (%llu MiB)",
			 (unsigned long long)r->gpa, r->count, (unsigned long long)(ram_size >> 20));
		return -ERANGE;
	}
	if (r->flags & MIG_RAM_ZERO) {
		if (len != MIG_RAM_HDR_LEN)
			return bad_len("RAM (zero)", len, MIG_RAM_HDR_LEN, err, errlen);
		r->data = NULL;
		return 0;
	}
	if (r->count > MIG_RAM_MAX_PAGES) {
		snprintf(err, errlen, "RAM record: %u data pages (limit %u)", r->count, MIG_RAM_MAX_PAGES);
		return -EPROTO;
	}
	if (len != MIG_RAM_HDR_LEN + r->count * MIG_PAGE_SIZE)
		return bad_len("RAM", len, MIG_RAM_HDR_LEN + r->count * MIG_PAGE_SIZE, err, errlen);
	r->data = body + MIG_RAM_HDR_LEN;
	return 0;
}

int mig_parse_device(const uint8_t *body, uint32_t len, struct mig_device_rec *r, char *err, size_t errlen)
{
	if (len < MIG_DEVICE_HDR_LEN) {
		snprintf(err, errlen, "DEVICE record: %u bytes is too short", len);
		return -EPROTO;
	}
	int ret = parse_dev_desc(body, &r->d, err, errlen);
	if (ret < 0)
		return ret;
	r->len = mig_get32(body + MIG_DEV_NAME_LEN + 4);
	if (r->len != len - MIG_DEVICE_HDR_LEN)
		return bad_len("DEVICE", len, MIG_DEVICE_HDR_LEN + r->len, err, errlen);
	r->data = body + MIG_DEVICE_HDR_LEN;
	return 0;
}
