/* The migration stream: framing, record protection, and the record bodies.
 *
 * Both directions of the TCP connection carry the same framing
 * (docs/migration-stream.md has the full description and a diagram):
 *
 *   preamble  16 B   "CSCMIGR\n" | u32 version | u32 direction (0 = source
 *                    to destination, 1 = destination to source)
 *   record    8 B header | body | trailer
 *             header: u16 type | u16 flags | u32 body length
 *             trailer, per direction and per moment (struct mig_seal):
 *               CRC    u32 CRC32C(header || body): the handshake (HELLO,
 *                      HELLO_ACK, AUTH), and every record of a stream
 *                      both sides started with --insecure-plaintext
 *               GCM    the body is AES-256-GCM ciphertext and the trailer
 *                      its 16-byte tag; key: this direction's session key
 *                      (auth.c), nonce: u32 0 | u64 record sequence number
 *                      of this direction, AAD: the 8-byte header. A record
 *                      altered, forged, dropped, replayed or reordered
 *                      fails its tag.
 *   ...
 *   END (source to destination: the last record)
 *
 * All integers are little-endian. A reader treats every byte as hostile:
 * lengths are checked against the record type's rules and a global cap
 * before anything is allocated or read into, the CRC or tag before the
 * body is interpreted, and bodies are parsed into host structs by the
 * functions below, which check every field. */
#ifndef CSC_VMM_MIG_STREAM_H
#define CSC_VMM_MIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define MIG_MAGIC		"CSCMIGR\n"
#define MIG_MAGIC_LEN		8
#define MIG_VERSION		2	/* 2: sealed records, HELLO without the VM's shape */
#define MIG_PREAMBLE_LEN	16
#define MIG_DIR_TO_DEST		0
#define MIG_DIR_TO_SOURCE	1

#define MIG_HDR_LEN		8
#define MIG_CRC_LEN		4
#define MIG_TAG_LEN		16	/* AES-GCM tag */
#define MIG_TRAILER_MAX		MIG_TAG_LEN
#define MIG_KEY_LEN		32	/* AES-256 */
#define MIG_PAGE_SIZE		4096u
#define MIG_RAM_MAX_PAGES	64u	/* data pages per RAM record */
#define MIG_MAX_BODY		(MIG_RAM_MAX_PAGES * MIG_PAGE_SIZE + 64)
#define MIG_NONCE_LEN		16
#define MIG_MAC_LEN		32	/* HMAC-SHA256 */
#define MIG_DEV_NAME_LEN	32
#define MIG_MAX_DEVICES		32
#define MIG_MAX_VCPUS		64
#define MIG_REASON_LEN		256

/* Record flags. */
#define MIG_F_MANDATORY		0x0001	/* an unknown type with this flag is an error */
#define MIG_F_KNOWN		MIG_F_MANDATORY

/* RAM record flags (in the body). */
#define MIG_RAM_ZERO		0x0001	/* count pages of zeros, no data */

enum mig_rec_type {
	MIG_REC_HELLO = 0x0001,		/* S->D: nonce, page size, stream flags */
	MIG_REC_HELLO_ACK = 0x0002,	/* D->S: nonce, MAC, verdict */
	MIG_REC_AUTH = 0x0003,		/* S->D: MAC */
	MIG_REC_RESERVE = 0x0004,	/* S->D: memory size, vCPUs, CPUID, device list */
	MIG_REC_RESERVE_ACK = 0x0005,	/* D->S: verdict */
	MIG_REC_ROUND = 0x0010,		/* S->D: a pre-copy round starts */
	MIG_REC_RAM = 0x0011,		/* S->D: a run of guest pages */
	MIG_REC_SYNC = 0x0012,		/* both: a round's end, echoed once its pages are in place */
	MIG_REC_CPU_MP_STATE = 0x0020,	/* S->D: vCPU state, one record each */
	MIG_REC_CPU_REGS = 0x0021,
	MIG_REC_CPU_SREGS = 0x0022,
	MIG_REC_CPU_XSAVE = 0x0023,
	MIG_REC_CPU_XCRS = 0x0024,
	MIG_REC_CPU_DEBUGREGS = 0x0025,
	MIG_REC_CPU_LAPIC = 0x0026,
	MIG_REC_CPU_MSRS = 0x0027,
	MIG_REC_CPU_EVENTS = 0x0028,
	MIG_REC_PROC_VCPU = 0x0029,	/* S->D: a proc-accelerator vCPU (registers, FPU) */
	MIG_REC_VM_CLOCK = 0x0030,	/* S->D: KVM clock */
	MIG_REC_VM_IRQCHIP = 0x0031,	/* S->D: PIC master, slave, IOAPIC */
	MIG_REC_DEVICE = 0x0040,	/* S->D: one device's state */
	MIG_REC_END = 0x0050,		/* S->D: last record; totals */
	MIG_REC_READY = 0x0060,		/* D->S: everything loaded, ready to run */
	MIG_REC_COMMIT = 0x0061,	/* S->D: source lets go; run the VM */
	MIG_REC_LATE_DEVICE = 0x0063,	/* S->D: after READY, before COMMIT: a device's late state
					 * (CompSC: frames held until the destination announced
					 * the VM); only to destinations with feature "late" */
	MIG_REC_ACTIVATED = 0x0062,	/* D->S: VM runs; resume timestamp */
	MIG_REC_ERROR = 0x0070,		/* either: failure with a reason */
	MIG_REC_CANCEL = 0x0071,	/* S->D: migration cancelled */
};

const char *mig_rec_name(uint16_t type);
bool mig_rec_known(uint16_t type);

/* CRC32C (Castagnoli), with the SSE4.2 instruction when the CPU has it. */
uint32_t mig_crc32c(uint32_t crc, const void *data, size_t len);

/* Record protection of one direction of a stream. Starts as CRC (the
 * handshake); auth.c switches both directions to GCM with the session keys
 * once both peers proved they know the token, unless both run with
 * --insecure-plaintext. */
enum mig_seal_mode {
	MIG_SEAL_CRC,
	MIG_SEAL_GCM,
};
struct mig_seal {
	enum mig_seal_mode mode;
	uint64_t seq;		/* records sealed (tx) or opened (rx) under this key */
	void *cipher;		/* EVP_CIPHER_CTX, key set */
	uint8_t *buf;		/* tx: ciphertext, MIG_MAX_BODY */
};

/* Byte transport: read/write exactly the requested bytes, or -errno
 * (-EPIPE for end of stream). Sockets and memory buffers implement it. */
struct mig_io {
	int (*read)(void *ctx, void *buf, size_t len);
	int (*writev)(void *ctx, struct iovec *iov, int n);
	void *ctx;
	uint64_t bytes_in, bytes_out;
	struct mig_seal tx, rx;
	/* Socket transport: the descriptor, and a deadline for reads
	 * (CLOCK_MONOTONIC ns, 0 = none; -ETIMEDOUT once past it) that
	 * bounds a whole exchange however slowly the peer trickles bytes. */
	int *fd;
	uint64_t read_deadline_ns;
};

struct mig_membuf {
	uint8_t *data;
	size_t len, cap, pos;	/* reads consume from pos; writes append */
};
/* Both start with CRC records in each direction. */
void mig_io_mem(struct mig_io *io, struct mig_membuf *mb);
void mig_io_fd(struct mig_io *io, int *fd);

/* Seals (tx) or opens (rx) every later record of that direction with
 * AES-256-GCM under key, sequence numbers from 0. 0 or -errno. */
int mig_io_set_key(struct mig_io *io, bool tx, const uint8_t key[MIG_KEY_LEN]);
/* Back to CRC records both ways; frees the ciphers. */
void mig_io_clear_keys(struct mig_io *io);

/* The session keys (docs/migration-stream.md "Key schedule"):
 *   PRK  = HKDF-Extract(salt = nonce_s | nonce_d, IKM = secret), SHA-256
 *   K_sd = HKDF-Expand(PRK, "compsc-mig v2 source->destination", 32)
 *   K_ds = HKDF-Expand(PRK, "compsc-mig v2 destination->source", 32) */
int mig_derive_keys(const void *secret, size_t secret_len, const uint8_t nonce_s[16], const uint8_t nonce_d[16],
		    uint8_t k_sd[MIG_KEY_LEN], uint8_t k_ds[MIG_KEY_LEN]);

int mig_write_preamble(struct mig_io *io, uint32_t direction);
int mig_read_preamble(struct mig_io *io, uint32_t direction, char *err, size_t errlen);

int mig_send(struct mig_io *io, uint16_t type, const void *body, uint32_t len);
int mig_sendv(struct mig_io *io, uint16_t type, struct iovec *body, int n);

/* One received record. body points into the caller's buffer (cap bytes,
 * at least MIG_MAX_BODY). Unknown optional records are skipped. Returns 0,
 * or -errno with a one-line reason in err. */
struct mig_rec {
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	uint8_t *body;
};
int mig_recv(struct mig_io *io, struct mig_rec *rec, uint8_t *buf, size_t cap, char *err,
	     size_t errlen);

/* Little-endian helpers for bodies. */
static inline void mig_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void mig_put32(uint8_t *p, uint32_t v) { mig_put16(p, (uint16_t)v); mig_put16(p + 2, (uint16_t)(v >> 16)); }
static inline void mig_put64(uint8_t *p, uint64_t v) { mig_put32(p, (uint32_t)v); mig_put32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t mig_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t mig_get32(const uint8_t *p) { return mig_get16(p) | ((uint32_t)mig_get16(p + 2) << 16); }
static inline uint64_t mig_get64(const uint8_t *p) { return mig_get32(p) | ((uint64_t)mig_get32(p + 4) << 32); }

/* ---- record bodies ---------------------------------------------------- */

/* CPUID registers that decide compatibility: features the source's vCPU
 * has must all be present on the destination. */
#define MIG_CPUID_WORDS 9
struct mig_cpuid_summary {
	uint32_t w[MIG_CPUID_WORDS];	/* see mig_cpuid_word_names */
};
extern const char *const mig_cpuid_word_names[MIG_CPUID_WORDS];

/* HELLO says nothing about the VM: it goes before either side is
 * authenticated. The VM's shape and CPU features travel in RESERVE, the
 * first sealed record. */
#define MIG_HELLO_PLAINTEXT	0x0001	/* the source runs with --insecure-plaintext */
#define MIG_HELLO_KNOWN		MIG_HELLO_PLAINTEXT
struct mig_hello {
	uint8_t nonce[MIG_NONCE_LEN];
	uint32_t page_size;
	uint32_t flags;
};
#define MIG_HELLO_LEN (MIG_NONCE_LEN + 8)
void mig_encode_hello(uint8_t *buf, const struct mig_hello *h);
int mig_parse_hello(const uint8_t *body, uint32_t len, struct mig_hello *h, char *err, size_t errlen);

/* HELLO_ACK, RESERVE_ACK, ERROR, CANCEL, READY: a status and a reason. */
struct mig_verdict {
	int32_t status;			/* 0 ok, else -errno */
	char reason[MIG_REASON_LEN];	/* NUL-terminated, printable */
};
/* HELLO_ACK: nonce_d | MAC_d | verdict. MAC_d covers the verdict's bytes
 * as sent (auth.c): a source checks it before it reads the verdict. */
#define MIG_HELLO_ACK_VERDICT_OFF (MIG_NONCE_LEN + MIG_MAC_LEN)
struct mig_hello_ack {
	uint8_t nonce[MIG_NONCE_LEN];
	uint8_t mac[MIG_MAC_LEN];
	struct mig_verdict v;
};
uint32_t mig_encode_verdict(uint8_t *buf, const struct mig_verdict *v);
int mig_parse_verdict(const uint8_t *body, uint32_t len, struct mig_verdict *v, char *err, size_t errlen);
uint32_t mig_encode_hello_ack(uint8_t *buf, const struct mig_hello_ack *a);
int mig_parse_hello_ack(const uint8_t *body, uint32_t len, struct mig_hello_ack *a, char *err,
			size_t errlen);

struct mig_dev_desc {
	char name[MIG_DEV_NAME_LEN];	/* NUL-terminated, [a-z0-9_-] */
	uint32_t version;
};
/* The pseudo-device naming the source's accelerator in RESERVE. */
#define MIG_VCPU_DEV_PREFIX	"vcpu-"

/* RESERVE: u64 RAM bytes | u32 vCPUs | u32 n | u32 CPUID words x 9 |
 * n x {name[32], u32 version}. */
#define MIG_RESERVE_HDR_LEN (16 + 4 * MIG_CPUID_WORDS)
#define MIG_RESERVE_MAX_LEN (MIG_RESERVE_HDR_LEN + MIG_MAX_DEVICES * (MIG_DEV_NAME_LEN + 4))
struct mig_reserve {
	uint64_t ram_size;
	uint32_t n_vcpus;
	uint32_t n_devices;
	struct mig_cpuid_summary cpuid;
	struct mig_dev_desc dev[MIG_MAX_DEVICES];
};
uint32_t mig_encode_reserve(uint8_t *buf, const struct mig_reserve *r);
int mig_parse_reserve(const uint8_t *body, uint32_t len, struct mig_reserve *r, char *err, size_t errlen);

/* RAM: u64 gpa | u32 count | u32 flags | count pages unless ZERO. */
#define MIG_RAM_HDR_LEN 16
struct mig_ram {
	uint64_t gpa;
	uint32_t count;
	uint32_t flags;
	const uint8_t *data;	/* count * 4096 bytes, NULL for ZERO */
};
/* Checks the run lies inside [0, ram_size), page-aligned, sizes exact. */
int mig_parse_ram(const uint8_t *body, uint32_t len, uint64_t ram_size, struct mig_ram *r, char *err,
		  size_t errlen);

/* DEVICE: char name[32] | u32 version | u32 length | state. */
#define MIG_DEVICE_HDR_LEN (MIG_DEV_NAME_LEN + 8)
struct mig_device_rec {
	struct mig_dev_desc d;
	uint32_t len;
	const uint8_t *data;
};
int mig_parse_device(const uint8_t *body, uint32_t len, struct mig_device_rec *r, char *err,
		     size_t errlen);
bool mig_dev_name_valid(const char *name);

/* END: u64 pages sent in total | u64 records sent before END. */
#define MIG_END_LEN 16

/* ACTIVATED: u64 CLOCK_MONOTONIC ns at vCPU start | u64 ns spent loading
 * state | u32 us COMMIT received -> vCPU start, u32 us vCPU start ->
 * ACTIVATED sent (little-endian u64: the first in the low half; 0: not
 * reported). */
#define MIG_ACTIVATED_LEN 24

#endif
