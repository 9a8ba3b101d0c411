/* Fuzz target mig_dest: the destination side of the migration stream,
 * as the incoming VMM runs it: preamble, HELLO, the handshake's AUTH,
 * RESERVE (with the device-registry check), then ROUND / RAM / CPU_* /
 * VM_* / DEVICE records in their stages until END, and the completeness
 * checks before loading (vmm/migration/migration.c dst_handshake,
 * dst_reservation, dst_receive, dst_load, over the parsers in stream.c,
 * cpustate.c and devstate.c).
 *
 * Those are static, so this file includes migration.c and builds the
 * engine's state by hand: a VM of 1 MiB of RAM (a memfd, mapped between
 * PROT_NONE guard pages, exactly as RAM records are written into it),
 * one or two vCPUs without KVM (loading them fails with EBADF, after every
 * check on the stream has run), two registered devices, and a transport
 * that reads the fuzzer's bytes and discards what the destination sends.
 * getrandom is replaced (by a macro, in this file only) with a fixed
 * nonce, so the harness can compute the handshake MAC a real source would.
 *
 * Checked after each input: guest RAM is still exactly ram_size bytes (no
 * write landed past it) and every failure left a printable reason.
 *
 * The destination runs with --insecure-plaintext unless the input asks
 * for sealed records (config bit 4): then the harness seals every record
 * after AUTH with the session key a real source would derive, so the
 * parsers behind the AES-GCM layer are reached either way, and the
 * opening of sealed records is fuzzed too.
 *
 * Input: u8 config
 *   bit 0: raw: the rest is the byte stream as is (framing, CRCs;
 *          plaintext destination)
 *   bit 1: the destination's CPU lacks every feature (else has all)
 *   bit 2: two vCPUs (else one)
 *   bit 3: the harness writes the preamble (else the first 16 bytes)
 *   bit 4: encrypted destination; records after AUTH sealed by the harness
 * structured (bit 0 clear), records until the input ends:
 *   u16 type | u8 ctl | u16 len | u8 pages | len bytes, then pages x 4 KiB
 *   of a fill pattern; the harness frames it with a correct CRC (or tag)
 *   unless ctl bit 1. ctl bit 0: the MANDATORY flag; bit 2: an unknown
 *   flag bit (both ignored for sealed records: the sealing always sets
 *   MANDATORY); bit 3 on AUTH: the body is the correct MAC for the last
 *   HELLO. */
/* The destination's handshake and stages: their files are compiled in here
 * (their static functions are what is fuzzed), the nonce made repeatable. */
#define getrandom fuzz_getrandom
#include "../../vmm/migration/auth.c"
#include "../../vmm/migration/dest.c"
#undef getrandom

#include <sys/mman.h>
#include <sys/stat.h>

#include "fuzz_input.h"

#define RAM_SIZE (1u << 20)
#define PAGE 4096u
#define TOKEN "fuzz-token"

static const uint8_t fixed_nonce_byte = 0x5a;

ssize_t fuzz_getrandom(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	memset(buf, fixed_nonce_byte, len);
	return (ssize_t)len;
}

static struct vm vm;
static struct accel_ops fuzz_accel;

static int no_kvm_load(struct vm *v, const struct accel_state *st, char *err, size_t errlen)
{
	(void)v, (void)st;
	snprintf(err, errlen, "no KVM in the fuzzer");
	return -ENODEV;
}
static uint8_t *rxbuf, fill[MIG_MAX_BODY];	/* page data: a pattern, not zeros */
static int devnull;

struct stream {
	const uint8_t *p;
	size_t len, pos;
};

static int stream_read(void *ctx, void *buf, size_t len)
{
	struct stream *s = ctx;

	if (len > s->len - s->pos)
		return -EPIPE;
	if (len)	/* an empty body may come with no buffer */
		memcpy(buf, s->p + s->pos, len);
	s->pos += len;
	return 0;
}

static int discard_writev(void *ctx, struct iovec *iov, int n)
{
	(void)ctx;
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(iov[i].iov_len == 0 || iov[i].iov_base);
	return 0;
}

static int fake_save(void *o, uint8_t *b, size_t cap, size_t *len, char *err, size_t errlen)
{
	(void)o, (void)b, (void)cap, (void)err, (void)errlen;
	*len = 0;
	return 0;
}

static int fake_load(void *o, uint32_t v, const uint8_t *b, size_t l, char *e, size_t el)
{
	(void)o, (void)v, (void)b, (void)l, (void)e, (void)el;
	return 0;
}
static const struct device_ops dev_platform = {
	.name = "platform", .version = 1, .min_load_version = 1, .load = fake_load, .save = fake_save };
static const struct device_ops dev_net = {
	.name = "virtio-net0", .version = 2, .min_load_version = 1, .load = fake_load, .save = fake_save };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", LOG_DEBUG);
	vm.ram_size = RAM_SIZE;
	vm.n_pages = RAM_SIZE / PAGE;
	vm.ram_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	uint8_t *area = mmap(NULL, RAM_SIZE + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm.ram_fd < 0 || ftruncate(vm.ram_fd, RAM_SIZE) < 0 || area == MAP_FAILED)
		abort();
	vm.ram = mmap(area + PAGE, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, vm.ram_fd, 0);
	if (vm.ram == MAP_FAILED)
		abort();
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		vm.vcpus[i].vm = &vm;
		vm.vcpus[i].id = i;
	}
	/* KVM's record parsing and checks, but no KVM to load into: loading
	 * fails after the checks. */
	fuzz_accel = accel_kvm_ops;
	fuzz_accel.state_load = no_kvm_load;
	vm.accel = &fuzz_accel;
	pthread_mutex_init(&vm.kick_lock, NULL);
	device_registry_add(&vm.devices, &dev_platform, NULL, 0);
	device_registry_add(&vm.devices, &dev_net, NULL, 0);
	for (size_t i = 0; i < sizeof(fill); i++)
		fill[i] = (uint8_t)(i * 131 + 7);
	rxbuf = malloc(MIG_MAX_BODY);
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!rxbuf || devnull < 0)
		abort();
	return 0;
}

/* CRC32C for framing the harness's own records, outside the coverage
 * instrumentation: the destination's check (mig_crc32c) is what is
 * measured, and instrumenting this copy too halved the speed. */
__attribute__((no_sanitize("coverage"), target("sse4.2"))) static uint32_t frame_crc(uint32_t crc, const uint8_t *p,
											 size_t len)
{
	uint64_t c = ~crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

/* Appends one framed record to the stream being built. */
static void put_record(struct mig_membuf *mb, uint16_t type, uint16_t flags, const uint8_t *body, uint32_t len,
		       bool bad_crc)
{
	uint8_t hdr[MIG_HDR_LEN], crc[MIG_CRC_LEN];
	struct iovec iov[3] = { { hdr, sizeof(hdr) }, { (void *)body, len }, { crc, sizeof(crc) } };
	struct mig_io io;

	mig_put16(hdr, type);
	mig_put16(hdr + 2, flags);
	mig_put32(hdr + 4, len);
	mig_put32(crc, frame_crc(frame_crc(0, hdr, sizeof(hdr)), body, len) ^ (bad_crc ? 1 : 0));
	mig_io_mem(&io, mb);
	if (io.writev(io.ctx, iov, 3) < 0)
		abort();
}

static void build_structured(struct fuzz_in *in, uint8_t config, struct mig_membuf *mb)
{
	static uint8_t body[MIG_MAX_BODY];
	uint8_t hello_nonce[MIG_NONCE_LEN] = { 0 }, nd[MIG_NONCE_LEN];
	uint32_t hello_flags = 0;
	bool sealing = false;
	struct mig_io io, sio = { 0 };	/* sio: the source's sealed direction, writing into mb */

	mig_io_mem(&io, mb);
	if (config & 8) {
		mig_write_preamble(&io, MIG_DIR_TO_DEST);
	} else {
		uint8_t p[MIG_PREAMBLE_LEN];
		struct iovec iov = { p, fuzz_bytes(in, p, sizeof(p)) };
		/* Not an empty write into an empty buffer: the test transport
		 * would add 0 to a NULL pointer (stream.c mem_writev). */
		if (iov.iov_len)
			io.writev(io.ctx, &iov, 1);
	}
	memset(nd, fixed_nonce_byte, sizeof(nd));
	while (!in->end && fuzz_left(in)) {
		uint16_t type = fuzz_u16(in);
		uint8_t ctl = fuzz_u8(in);
		uint32_t len = fuzz_u16(in), pages = fuzz_u8(in);
		len = (uint32_t)fuzz_bytes(in, body, len);
		if (len + (uint64_t)pages * PAGE > MIG_MAX_BODY)
			pages = (MIG_MAX_BODY - len) / PAGE;
		memcpy(body + len, fill, pages * PAGE);
		len += pages * PAGE;
		if (type == MIG_REC_HELLO && len >= MIG_NONCE_LEN)
			memcpy(hello_nonce, body, MIG_NONCE_LEN);
		if (type == MIG_REC_HELLO && len >= MIG_HELLO_LEN)
			hello_flags = mig_get32(body + 20);
		if (type == MIG_REC_AUTH && (ctl & 8)) {
			if (compute_mac(TOKEN, "compsc-mig-source", hello_nonce, nd, hello_flags, NULL, 0, body) < 0)
				abort();
			len = MIG_MAC_LEN;
		}
		if (sealing) {
			struct iovec iov = { body, len };
			if (mig_sendv(&sio, type, &iov, len ? 1 : 0) < 0)
				abort();
			if (ctl & 2)
				mb->data[mb->len - 1] ^= 1;	/* a bad tag */
			continue;
		}
		uint16_t flags = (ctl & 1 ? MIG_F_MANDATORY : 0) | (ctl & 4 ? 0x8000 : 0);
		put_record(mb, type, flags, body, len, ctl & 2);
		if (type == MIG_REC_AUTH && (config & 16)) {
			/* As the source does after AUTH: everything later sealed. */
			uint8_t k_sd[MIG_KEY_LEN], k_ds[MIG_KEY_LEN];
			mig_io_mem(&sio, mb);
			if (mig_derive_keys(TOKEN, strlen(TOKEN), hello_nonce, nd, k_sd, k_ds) < 0 ||
			    mig_io_set_key(&sio, true, k_sd) < 0)
				abort();
			sealing = true;
		}
	}
	mig_io_clear_keys(&sio);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mig_membuf mb;	/* reused: no large allocation per input */
	struct stream st;
	struct fuzz_in in;

	fuzz_in_init(&in, data, size);
	fuzz_mute();
	uint8_t config = fuzz_u8(&in);
	mb.len = mb.pos = 0;
	if (config & 1)
		st = (struct stream){ in.p + in.pos, fuzz_left(&in), 0 };
	else {
		build_structured(&in, config, &mb);
		st = (struct stream){ mb.data, mb.len, 0 };
	}

	struct migration *m = calloc(1, sizeof(*m));
	if (!m)
		abort();
	vm.n_vcpus = config & 4 ? 2 : 1;
	vm.stopping = false;
	m->vm = &vm;
	snprintf(m->token, sizeof(m->token), "%s", TOKEN);
	m->plaintext = (config & 1) || !(config & 16);
	m->notify_fd = devnull;
	m->sock = m->listen_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->n_words = (vm.n_pages + 63) / 64;
	m->rxbuf = rxbuf;
	m->touched = calloc(m->n_words, 8);
	memset(&m->cpuid, config & 2 ? 0 : 0xff, sizeof(m->cpuid));
	m->io = (struct mig_io){ .read = stream_read, .writev = discard_writev, .ctx = &st };
	for (uint64_t pfn = 0; pfn < 16; pfn++)	/* what the platform wrote at creation */
		m->touched[pfn / 64] |= 1ull << (pfn % 64);

	int ret = mig_auth_dest(m);
	if (ret == 0)
		ret = dst_reservation(m);
	if (ret == 0 && (ret = mig_ram_rx_start(m)) == 0) {	/* as mig_dest_thread does */
		ret = dst_receive(m);
		mig_ram_rx_stop(m);
	}
	if (ret == 0) {
		/* Accepted up to END: the completeness checks run, then the
		 * first KVM call fails (there is no KVM to load into). */
		mig_set_stage(m, MIG_STAGE_COMMITMENT);
		ret = dst_load(m);
		FUZZ_CHECK(ret < 0);
	}
	FUZZ_CHECK(memchr(m->p.error, '\0', sizeof(m->p.error)));
	if (getenv("FUZZ_VERBOSE"))
		dprintf(2, "mig_dest: %d in %s: %s\n", ret, mig_stage_name(m->p.stage), m->p.error);
	FUZZ_CHECK(ret == 0 || m->p.error[0]);
	struct stat sb;
	FUZZ_CHECK(fstat(vm.ram_fd, &sb) == 0 && sb.st_size == RAM_SIZE);

	mig_io_clear_keys(&m->io);
	for (unsigned k = 0; k < MIG_MAX_DEVICES; k++)
		free(m->dev[k].data);
	if (m->vstate)
		vm.accel->state_free(m->vstate);
	free(m->touched);
	pthread_mutex_destroy(&m->lock);
	free(m);
	fuzz_unmute();
	return 0;
}
