/* Migration stream parser and record checks, driven with byte buffers:
 * the destination's view of a hostile stream. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../vmm/migration/cpustate.h"
#include "../../vmm/device.h"
#include "../../vmm/migration/stream.h"

#define RAM (64ull << 20)

static uint8_t body[MIG_MAX_BODY];
static char err[512];

struct stream {
	struct mig_membuf mb;
	struct mig_io io;
};

static void stream_init(struct stream *s)
{
	memset(s, 0, sizeof(*s));
	mig_io_mem(&s->io, &s->mb);
}

static int recv_one(struct stream *s, struct mig_rec *rec)
{
	err[0] = '\0';
	return mig_recv(&s->io, rec, body, sizeof(body), err, sizeof(err));
}

static void test_crc32c_vector(void **state)
{
	(void)state;
	assert_int_equal(mig_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(mig_crc32c(0, "", 0), 0);
}

static void test_roundtrip(void **state)
{
	struct stream s;
	struct mig_rec rec;
	(void)state;

	stream_init(&s);
	assert_int_equal(mig_write_preamble(&s.io, MIG_DIR_TO_DEST), 0);
	assert_int_equal(mig_send(&s.io, MIG_REC_ROUND, "\x01\0\0\0", 4), 0);
	assert_int_equal(mig_send(&s.io, MIG_REC_COMMIT, NULL, 0), 0);
	assert_int_equal(mig_read_preamble(&s.io, MIG_DIR_TO_DEST, err, sizeof(err)), 0);
	assert_int_equal(recv_one(&s, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_ROUND);
	assert_int_equal(rec.len, 4);
	assert_int_equal(mig_get32(rec.body), 1);
	assert_int_equal(recv_one(&s, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_COMMIT);
	assert_int_equal(recv_one(&s, &rec), -EPIPE);
	free(s.mb.data);
}

static void test_bad_magic_and_version(void **state)
{
	struct stream s;
	(void)state;

	stream_init(&s);
	mig_write_preamble(&s.io, MIG_DIR_TO_DEST);
	s.mb.data[0] = 'X';
	assert_int_equal(mig_read_preamble(&s.io, MIG_DIR_TO_DEST, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "bad stream magic"));
	free(s.mb.data);

	stream_init(&s);
	mig_write_preamble(&s.io, MIG_DIR_TO_DEST);
	s.mb.data[8] = 9;
	assert_int_equal(mig_read_preamble(&s.io, MIG_DIR_TO_DEST, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "version 9"));
	free(s.mb.data);

	stream_init(&s);
	mig_write_preamble(&s.io, MIG_DIR_TO_SOURCE);
	assert_int_equal(mig_read_preamble(&s.io, MIG_DIR_TO_DEST, err, sizeof(err)), -EPROTO);
	free(s.mb.data);
}

static void put_raw(struct stream *s, uint16_t type, uint16_t flags, uint32_t len, const void *b, size_t blen,
		    bool good_crc)
{
	uint8_t hdr[8], crc[4];
	struct iovec iov[3] = { { hdr, 8 }, { (void *)b, blen }, { crc, 4 } };

	mig_put16(hdr, type);
	mig_put16(hdr + 2, flags);
	mig_put32(hdr + 4, len);
	mig_put32(crc, mig_crc32c(mig_crc32c(0, hdr, 8), b, blen) ^ (good_crc ? 0 : 1));
	s->io.writev(s->io.ctx, iov, 3);
}

static void test_length_past_limit(void **state)
{
	struct stream s;
	struct mig_rec rec;
	(void)state;

	stream_init(&s);
	put_raw(&s, MIG_REC_RAM, MIG_F_MANDATORY, 0xffffffffu, "", 0, true);
	assert_int_equal(recv_one(&s, &rec), -EMSGSIZE);
	assert_non_null(strstr(err, "claims 4294967295 bytes"));
	free(s.mb.data);
}

static void test_truncated_body(void **state)
{
	struct stream s;
	struct mig_rec rec;
	(void)state;

	stream_init(&s);
	mig_send(&s.io, MIG_REC_ROUND, "\0\0\0\0", 4);
	s.mb.len -= 3;	/* lose part of the trailer */
	assert_int_equal(recv_one(&s, &rec), -EPROTO);
	assert_non_null(strstr(err, "truncated"));
	free(s.mb.data);
}

static void test_checksum_mismatch(void **state)
{
	struct stream s;
	struct mig_rec rec;
	(void)state;

	stream_init(&s);
	mig_send(&s.io, MIG_REC_ROUND, "\0\0\0\0", 4);
	s.mb.data[9] ^= 0x40;	/* a body bit */
	assert_int_equal(recv_one(&s, &rec), -EBADMSG);
	assert_non_null(strstr(err, "checksum mismatch"));
	free(s.mb.data);
}

static void test_unknown_types(void **state)
{
	struct stream s;
	struct mig_rec rec;
	(void)state;

	stream_init(&s);
	put_raw(&s, 0x7777, 0, 3, "abc", 3, true);		/* optional: skipped */
	mig_send(&s.io, MIG_REC_COMMIT, NULL, 0);
	put_raw(&s, 0x7778, MIG_F_MANDATORY, 3, "abc", 3, true);	/* mandatory: error */
	put_raw(&s, MIG_REC_COMMIT, 0x8000, 0, "", 0, true);	/* unknown flag */
	assert_int_equal(recv_one(&s, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_COMMIT);
	assert_int_equal(recv_one(&s, &rec), -EPROTO);
	assert_non_null(strstr(err, "unknown mandatory record type 0x7778"));
	assert_int_equal(recv_one(&s, &rec), -EPROTO);
	assert_non_null(strstr(err, "unknown flags"));
	free(s.mb.data);
}

static uint32_t ram_body(uint8_t *b, uint64_t gpa, uint32_t count, uint32_t flags)
{
	mig_put64(b, gpa);
	mig_put32(b + 8, count);
	mig_put32(b + 12, flags);
	return MIG_RAM_HDR_LEN;
}

static void test_ram_records(void **state)
{
	static uint8_t b[MIG_RAM_HDR_LEN + 2 * 4096];
	struct mig_ram r;
	(void)state;

	ram_body(b, 0x1000, 2, 0);
	assert_int_equal(mig_parse_ram(b, sizeof(b), RAM, &r, err, sizeof(err)), 0);
	assert_ptr_equal(r.data, b + MIG_RAM_HDR_LEN);
	/* Outside RAM, straddling its end, wrapping around 2^64. */
	ram_body(b, RAM, 2, 0);
	assert_int_equal(mig_parse_ram(b, sizeof(b), RAM, &r, err, sizeof(err)), -ERANGE);
	ram_body(b, RAM - 4096, 2, 0);
	assert_int_equal(mig_parse_ram(b, sizeof(b), RAM, &r, err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "outside guest RAM"));
	ram_body(b, 0xfffffffffffff000ull, 2, MIG_RAM_ZERO);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN, RAM, &r, err, sizeof(err)), -ERANGE);
	ram_body(b, 0, 0xffffffffu, MIG_RAM_ZERO);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN, RAM, &r, err, sizeof(err)), -ERANGE);
	/* Unaligned, empty, length mismatch, zero flag with data, too many pages. */
	ram_body(b, 0x1001, 1, 0);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN + 4096, RAM, &r, err, sizeof(err)), -EPROTO);
	ram_body(b, 0x1000, 0, 0);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN, RAM, &r, err, sizeof(err)), -EPROTO);
	ram_body(b, 0x1000, 2, 0);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN + 4096, RAM, &r, err, sizeof(err)), -EPROTO);
	ram_body(b, 0x1000, 1, MIG_RAM_ZERO);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN + 4096, RAM, &r, err, sizeof(err)), -EPROTO);
	ram_body(b, 0, MIG_RAM_MAX_PAGES + 1, 0);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN, RAM, &r, err, sizeof(err)), -EPROTO);
	ram_body(b, 0, 1, 0x80);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN + 4096, RAM, &r, err, sizeof(err)), -EPROTO);
	/* A short header. */
	assert_int_equal(mig_parse_ram(b, 7, RAM, &r, err, sizeof(err)), -EPROTO);
	/* Zero run: no data. */
	ram_body(b, 0, 1000, MIG_RAM_ZERO);
	assert_int_equal(mig_parse_ram(b, MIG_RAM_HDR_LEN, RAM, &r, err, sizeof(err)), 0);
	assert_null(r.data);
}

static int no_save(void *dev, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	(void)dev, (void)buf, (void)cap, (void)err, (void)errlen;
	*len = 0;
	return 0;
}

static void test_reserve_and_registry(void **state)
{
	static uint8_t b[MIG_RESERVE_MAX_LEN + 64];
	struct mig_reserve r = { .ram_size = RAM, .n_vcpus = 1, .n_devices = 2, .cpuid.w = { 1, 2, 3, 4, 5, 6, 7, 8, 9 } },
			   out;
	const unsigned d0 = MIG_RESERVE_HDR_LEN;	/* the first device name */
	struct device_registry reg = { 0 };
	static const struct device_ops plat = { .name = "platform", .version = 2, .min_load_version = 1,
						.save = no_save };
	static const struct device_ops net = { .name = "virtio-net", .version = 1, .min_load_version = 1,
					       .save = no_save };
	static const struct device_ops vf = { .name = "vf", .numbered = true };	/* no state */
	(void)state;

	strcpy(r.dev[0].name, "platform");
	r.dev[0].version = 1;
	strcpy(r.dev[1].name, "virtio-net");
	r.dev[1].version = 1;
	uint32_t len = mig_encode_reserve(b, &r);
	assert_int_equal(mig_parse_reserve(b, len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.dev[1].name, "virtio-net");
	assert_memory_equal(&out.cpuid, &r.cpuid, sizeof(r.cpuid));
	assert_int_equal(mig_parse_reserve(b, len - 1, &out, err, sizeof(err)), -EPROTO);
	/* Too many devices; an unterminated or odd name; a duplicate. */
	mig_put32(b + 12, MIG_MAX_DEVICES + 1);
	assert_int_equal(mig_parse_reserve(b, len, &out, err, sizeof(err)), -EPROTO);
	mig_put32(b + 12, 2);
	memset(b + d0, 'a', 32);
	assert_int_equal(mig_parse_reserve(b, len, &out, err, sizeof(err)), -EPROTO);
	memcpy(b + d0, "Plat\n", 6);
	assert_int_equal(mig_parse_reserve(b, len, &out, err, sizeof(err)), -EPROTO);
	memset(b + d0, 0, 32);
	strcpy((char *)b + d0, "virtio-net");
	assert_int_equal(mig_parse_reserve(b, len, &out, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "twice"));

	/* Registry: missing device, version range, extra local device. */
	assert_int_equal(device_registry_add(&reg, &plat, NULL, 0), 0);
	assert_int_equal(device_registry_add(&reg, &plat, NULL, 0), -EINVAL);
	/* A device without state is in the registry but not in migrations. */
	assert_int_equal(device_registry_add(&reg, &vf, NULL, 0), 0);
	assert_int_equal(device_registry_find(&reg, "vf0"), 1);
	assert_int_equal(device_registry_check(&reg, &r, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "'virtio-net'"));
	assert_int_equal(device_registry_add(&reg, &net, NULL, 0), 0);
	assert_int_equal(device_registry_check(&reg, &r, err, sizeof(err)), 0);
	struct mig_reserve described;
	device_registry_describe(&reg, &described);
	assert_int_equal(described.n_devices, 2);	/* platform and virtio-net, not vf0 */
	assert_string_equal(described.dev[1].name, "virtio-net");
	r.dev[0].version = 3;
	assert_int_equal(device_registry_check(&reg, &r, err, sizeof(err)), -EPROTO);
	r.dev[0].version = 1;
	r.n_devices = 1;
	assert_int_equal(device_registry_check(&reg, &r, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "not on the source"));
}

static void test_verdict_and_device(void **state)
{
	uint8_t b[400];
	struct mig_verdict v = { .status = -22 }, out;
	struct mig_device_rec d;
	(void)state;

	strcpy(v.reason, "no");
	uint32_t len = mig_encode_verdict(b, &v);
	assert_int_equal(mig_parse_verdict(b, len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.reason, "no");
	assert_int_equal(mig_parse_verdict(b, len + 1, &out, err, sizeof(err)), -EPROTO);
	mig_put32(b, 5);	/* positive status */
	assert_int_equal(mig_parse_verdict(b, len, &out, err, sizeof(err)), -EPROTO);
	mig_put32(b, 0);
	b[8] = 0x1b;	/* control characters are neutralised */
	assert_int_equal(mig_parse_verdict(b, len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.reason[0], '?');

	memset(b, 0, sizeof(b));
	strcpy((char *)b, "platform");
	mig_put32(b + 32, 1);
	mig_put32(b + 36, 10);
	assert_int_equal(mig_parse_device(b, MIG_DEVICE_HDR_LEN + 10, &d, err, sizeof(err)), 0);
	assert_int_equal(mig_parse_device(b, MIG_DEVICE_HDR_LEN + 9, &d, err, sizeof(err)), -EPROTO);
	mig_put32(b + 36, 0xffffffffu);
	assert_int_equal(mig_parse_device(b, MIG_DEVICE_HDR_LEN + 10, &d, err, sizeof(err)), -EPROTO);
}

static struct mig_rec cpu_rec(uint16_t type, uint32_t id, uint32_t aux, const void *data, uint32_t len)
{
	static uint8_t b[8 + 8192];
	mig_put32(b, id);
	mig_put32(b + 4, aux);
	memcpy(b + 8, data, len);
	return (struct mig_rec){ .type = type, .len = 8 + len, .body = b };
}

static void test_cpu_records(void **state)
{
	static struct mig_vcpu_state vs[1];
	static struct mig_vm_state vm;
	struct kvm_regs regs = { .rip = 0x100000, .rsp = 0x200000, .rflags = 2 };
	struct kvm_msr_entry msrs[2] = { { .index = 0x10 }, { .index = 0xc0000080 } };
	struct mig_rec rec;
	(void)state;

	rec = cpu_rec(MIG_REC_CPU_REGS, 0, 0, &regs, sizeof(regs));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), 0);
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);	/* twice */
	memset(vs, 0, sizeof(vs));
	rec = cpu_rec(MIG_REC_CPU_REGS, 1, 0, &regs, sizeof(regs));	/* no vcpu1 */
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	rec = cpu_rec(MIG_REC_CPU_REGS, 0, 0, &regs, sizeof(regs) - 8);	/* short */
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	regs.rip = 0x0000800000000000ull;
	rec = cpu_rec(MIG_REC_CPU_REGS, 0, 0, &regs, sizeof(regs));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not canonical"));
	memset(vs, 0, sizeof(vs));
	regs.rip = 0x100000;
	regs.rflags = 0;	/* bit 1 must be set */
	rec = cpu_rec(MIG_REC_CPU_REGS, 0, 0, &regs, sizeof(regs));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	/* MSRs: EFER travels in SREGS, not as an MSR; counts are checked. */
	rec = cpu_rec(MIG_REC_CPU_MSRS, 0, 2, msrs, sizeof(msrs));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0xc0000080"));
	memset(vs, 0, sizeof(vs));
	rec = cpu_rec(MIG_REC_CPU_MSRS, 0, 1000, msrs, sizeof(msrs));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	msrs[1].index = 0x10;
	rec = cpu_rec(MIG_REC_CPU_MSRS, 0, 2, msrs, sizeof(msrs));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	/* sregs: page tables outside RAM. */
	struct kvm_sregs sr = { .cr0 = 0x80000001, .cr3 = RAM + 0x1000, .apic_base = 0xfee00900 };
	rec = cpu_rec(MIG_REC_CPU_SREGS, 0, 0, &sr, sizeof(sr));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "outside guest RAM"));
	/* irqchip: a chip that does not exist; incomplete state is refused. */
	uint8_t chip[512] = { 0 };
	rec = cpu_rec(MIG_REC_VM_IRQCHIP, 3, 0, chip, sizeof(chip));
	assert_int_equal(mig_cpu_rx(vs, 1, &vm, RAM, &rec, err, sizeof(err)), -EINVAL);
	memset(vs, 0, sizeof(vs));
	assert_int_equal(mig_cpu_rx_complete(vs, 1, &vm, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "incomplete"));
}

static void test_hello(void **state)
{
	struct mig_hello h = { .page_size = 4096, .flags = MIG_HELLO_PLAINTEXT }, out;
	uint8_t b[MIG_HELLO_LEN];
	(void)state;

	/* Nothing about the VM before authentication: nonce, page size, flags. */
	assert_int_equal(MIG_HELLO_LEN, 24);
	mig_encode_hello(b, &h);
	assert_int_equal(mig_parse_hello(b, sizeof(b), &out, err, sizeof(err)), 0);
	assert_int_equal(out.flags, MIG_HELLO_PLAINTEXT);
	assert_int_equal(mig_parse_hello(b, sizeof(b) - 1, &out, err, sizeof(err)), -EPROTO);
	h.flags = 0x80;
	mig_encode_hello(b, &h);
	assert_int_equal(mig_parse_hello(b, sizeof(b), &out, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "unknown flags"));
	h.flags = 0;
	h.page_size = 65536;
	mig_encode_hello(b, &h);
	assert_int_equal(mig_parse_hello(b, sizeof(b), &out, err, sizeof(err)), -EPROTO);
}

/* ---- sealed records (AES-256-GCM) ----------------------------------------------- */

static const uint8_t kat_ns[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t kat_nd[16] = { 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

/* A writer and a reader of one direction, keyed as the source's tx and
 * the destination's rx are. */
static void sealed_pair(struct stream *w, struct stream *r)
{
	uint8_t k_sd[MIG_KEY_LEN], k_ds[MIG_KEY_LEN];

	stream_init(w);
	memset(r, 0, sizeof(*r));
	assert_int_equal(mig_derive_keys("compsc-test-secret", 18, kat_ns, kat_nd, k_sd, k_ds), 0);
	assert_int_equal(mig_io_set_key(&w->io, true, k_sd), 0);
	mig_io_mem(&r->io, &w->mb);	/* reads what w wrote */
	assert_int_equal(mig_io_set_key(&r->io, false, k_sd), 0);
}

static void sealed_done(struct stream *w, struct stream *r)
{
	mig_io_clear_keys(&w->io);
	mig_io_clear_keys(&r->io);
	free(w->mb.data);
}

/* The key schedule and the record format are the documented ones
 * (docs/migration-stream.md): the expected bytes come from Python's
 * cryptography (HKDF-SHA256, AESGCM), not from this code. */
static void test_key_schedule_and_format(void **state)
{
	static const uint8_t want_sd[32] = {
		0xf8, 0x34, 0x52, 0x3f, 0xe3, 0x34, 0xf2, 0x66, 0x14, 0xed, 0xc5, 0x9c, 0x54, 0x98, 0x0b, 0xe9,
		0xbc, 0x6e, 0x64, 0xce, 0xf6, 0xe7, 0xc1, 0x2e, 0x06, 0x8b, 0x9b, 0x31, 0x0b, 0x9f, 0x93, 0x5e };
	static const uint8_t want_ds[32] = {
		0xdc, 0x72, 0x23, 0x6d, 0x55, 0xc4, 0xa2, 0x9e, 0xe6, 0xfe, 0x9d, 0x57, 0x3c, 0xc4, 0x03, 0x43,
		0x8c, 0x63, 0xa5, 0x84, 0x0f, 0x38, 0x10, 0xc1, 0x2f, 0x0c, 0xaf, 0x99, 0x82, 0x3c, 0x86, 0x5a };
	/* ROUND(1) as the second record (sequence 1): ciphertext | tag. */
	static const uint8_t want_rec[20] = { 0x6a, 0x64, 0x01, 0xfb, 0x5e, 0x26, 0xd7, 0x91, 0x51, 0x05,
					      0x9e, 0x0b, 0xd9, 0x2e, 0x52, 0x0b, 0xfa, 0xc5, 0x45, 0x98 };
	uint8_t k_sd[MIG_KEY_LEN], k_ds[MIG_KEY_LEN];
	struct stream w, r;
	(void)state;

	assert_int_equal(mig_derive_keys("compsc-test-secret", 18, kat_ns, kat_nd, k_sd, k_ds), 0);
	assert_memory_equal(k_sd, want_sd, 32);
	assert_memory_equal(k_ds, want_ds, 32);
	sealed_pair(&w, &r);
	assert_int_equal(mig_send(&w.io, MIG_REC_COMMIT, NULL, 0), 0);
	assert_int_equal(w.mb.len, MIG_HDR_LEN + MIG_TAG_LEN);
	assert_int_equal(mig_send(&w.io, MIG_REC_ROUND, "\x01\0\0\0", 4), 0);
	assert_int_equal(w.io.bytes_out, 2 * (MIG_HDR_LEN + MIG_TAG_LEN) + 4);
	/* The header in the clear (the reader needs the length), then the rest. */
	assert_memory_equal(w.mb.data + MIG_HDR_LEN + MIG_TAG_LEN, "\x10\0\x01\0\x04\0\0\0", 8);
	assert_memory_equal(w.mb.data + 2 * MIG_HDR_LEN + MIG_TAG_LEN, want_rec, sizeof(want_rec));
	sealed_done(&w, &r);
}

static void test_sealed_roundtrip_hides_the_body(void **state)
{
	static uint8_t page[3 * 4096];
	struct stream w, r;
	struct mig_rec rec;
	(void)state;

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)("guest secret "[i % 13]);
	sealed_pair(&w, &r);
	struct iovec iov[2] = { { "RAMHEADER0123456", 16 }, { page, sizeof(page) } };
	assert_int_equal(mig_sendv(&w.io, MIG_REC_RAM, iov, 2), 0);
	assert_int_equal(mig_send(&w.io, MIG_REC_COMMIT, NULL, 0), 0);
	assert_null(memmem(w.mb.data, w.mb.len, "guest secret", 12));
	assert_null(memmem(w.mb.data, w.mb.len, "RAMHEADER", 9));
	assert_int_equal(mig_recv(&r.io, &rec, body, sizeof(body), err, sizeof(err)), 0);
	assert_int_equal(rec.type, MIG_REC_RAM);
	assert_int_equal(rec.len, 16 + sizeof(page));
	assert_memory_equal(rec.body, "RAMHEADER0123456", 16);
	assert_memory_equal(rec.body + 16, page, sizeof(page));
	assert_int_equal(mig_recv(&r.io, &rec, body, sizeof(body), err, sizeof(err)), 0);
	assert_int_equal(rec.type, MIG_REC_COMMIT);
	assert_int_equal(mig_recv(&r.io, &rec, body, sizeof(body), err, sizeof(err)), -EPIPE);
	sealed_done(&w, &r);

	/* Plaintext (the handshake, or --insecure-plaintext): the body as is. */
	stream_init(&w);
	assert_int_equal(mig_sendv(&w.io, MIG_REC_RAM, iov, 2), 0);
	assert_non_null(memmem(w.mb.data, w.mb.len, "guest secret", 12));
	free(w.mb.data);
}

/* Three records A, B, C sealed in a row; each attack rebuilds the byte
 * stream from them and the reader must refuse it at the first record
 * that is not the next one sealed. */
enum attack { FLIP_BODY, FLIP_TAG, FLIP_LENGTH, FLIP_TYPE, DROP, REPLAY, REORDER, FORGE };

static void test_sealed_attacks(void **state)
{
	struct stream w, r;
	struct mig_rec rec;
	(void)state;

	for (int a = FLIP_BODY; a <= FORGE; a++) {
		sealed_pair(&w, &r);
		size_t off[4];
		off[0] = 0;
		mig_send(&w.io, MIG_REC_ROUND, "\0\0\0\0", 4);
		off[1] = w.mb.len;
		mig_send(&w.io, MIG_REC_SYNC, "\0\0\0\0", 4);
		off[2] = w.mb.len;
		mig_send(&w.io, MIG_REC_COMMIT, NULL, 0);
		off[3] = w.mb.len;
		uint8_t *orig = malloc(w.mb.len), *d = w.mb.data;
		memcpy(orig, d, w.mb.len);
		size_t rl[3] = { off[1] - off[0], off[2] - off[1], off[3] - off[2] };
		int good = 0;	/* records read before the refusal */
		switch (a) {
		case FLIP_BODY: d[off[1] + MIG_HDR_LEN] ^= 1; good = 1; break;
		case FLIP_TAG: d[off[1] - 1] ^= 0x80; good = 0; break;
		case FLIP_TYPE: d[off[1]] = MIG_REC_ROUND; good = 1; break;	/* SYNC passed off as ROUND */
		case FLIP_LENGTH: d[off[2] + 4] = 4; good = 2; break;	/* COMMIT claims 4 bytes */
		case DROP:	/* B never arrives */
			memmove(d + off[1], orig + off[2], rl[2]);
			w.mb.len -= rl[1];
			good = 1;
			break;
		case REPLAY:	/* A again instead of C */
			memcpy(d + off[2], orig, rl[0]);
			w.mb.len = off[2] + rl[0];
			good = 2;
			break;
		case REORDER:	/* A C B */
			memcpy(d + off[1], orig + off[2], rl[2]);
			memcpy(d + off[1] + rl[2], orig + off[1], rl[1]);
			good = 1;
			break;
		case FORGE: {	/* a COMMIT made up on the path, with a CRC as in version 1 */
			uint8_t f[MIG_HDR_LEN + MIG_TAG_LEN] = { 0x61, 0, 1, 0 };
			mig_put32(f + MIG_HDR_LEN, mig_crc32c(0, f, MIG_HDR_LEN));
			memcpy(d + off[1], f, sizeof(f));
			w.mb.len = off[1] + sizeof(f);
			good = 1;
			break;
		}
		}
		int n = 0, ret;
		while ((ret = mig_recv(&r.io, &rec, body, sizeof(body), err, sizeof(err))) == 0)
			n++;
		if (a == FLIP_LENGTH) {
			assert_int_equal(ret, -EPROTO);	/* 4 bytes short: truncated */
		} else {
			assert_int_equal(ret, -EBADMSG);
			assert_non_null(strstr(err, "fails authentication"));
		}
		assert_int_equal(n, good);
		free(orig);
		sealed_done(&w, &r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vector),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_magic_and_version),
		cmocka_unit_test(test_length_past_limit),
		cmocka_unit_test(test_truncated_body),
		cmocka_unit_test(test_checksum_mismatch),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_ram_records),
		cmocka_unit_test(test_reserve_and_registry),
		cmocka_unit_test(test_verdict_and_device),
		cmocka_unit_test(test_cpu_records),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_key_schedule_and_format),
		cmocka_unit_test(test_sealed_roundtrip_hides_the_body),
		cmocka_unit_test(test_sealed_attacks),
	};

	log_init("test", LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
