/* The migration stream parsers against random and mutated input: records
 * with valid framing (so they reach the parsers) but random bodies, valid
 * encodings with flipped bytes and cut lengths, and raw random bytes.
 * Every call must return cleanly (this runs under ASan/UBSan too), and
 * whatever a parser accepts must satisfy the guarantees its callers rely
 * on. Deterministic seeds. */
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
#define N_VCPUS 2

static uint64_t rng;
static unsigned ram_ok, ram_bad, dev_ok, dev_bad;	/* both sides must be reached */
static uint8_t body[MIG_MAX_BODY], buf[MIG_MAX_BODY];
static char err[512];

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void err_is_a_string(void)
{
	assert_true(memchr(err, '\0', sizeof(err)) != NULL);
}

static void check_ram(const uint8_t *b, uint32_t len)
{
	struct mig_ram r;

	err[0] = '\0';
	if (mig_parse_ram(b, len, RAM, &r, err, sizeof(err)) < 0) {
		err_is_a_string();
		ram_bad++;
		return;
	}
	ram_ok++;
	/* Accepted: a page-aligned run inside RAM, with exactly its data. */
	assert_true(r.gpa % MIG_PAGE_SIZE == 0);
	assert_true(r.count > 0 && r.count <= RAM / MIG_PAGE_SIZE);
	assert_true(r.gpa + (uint64_t)r.count * MIG_PAGE_SIZE <= RAM);
	if (r.data) {
		assert_true(r.count <= MIG_RAM_MAX_PAGES);
		assert_int_equal(len, MIG_RAM_HDR_LEN + (uint64_t)r.count * MIG_PAGE_SIZE);
		assert_ptr_equal(r.data, b + MIG_RAM_HDR_LEN);
	} else {
		assert_true(r.flags & MIG_RAM_ZERO);
	}
}

static void check_device(const uint8_t *b, uint32_t len)
{
	struct mig_device_rec d;

	err[0] = '\0';
	if (mig_parse_device(b, len, &d, err, sizeof(err)) < 0) {
		err_is_a_string();
		dev_bad++;
		return;
	}
	dev_ok++;
	assert_true(mig_dev_name_valid(d.d.name));
	assert_true(d.len <= len - MIG_DEVICE_HDR_LEN);
	assert_true(d.data >= b && d.data + d.len <= b + len);
}

static void check_reserve(const uint8_t *b, uint32_t len)
{
	struct mig_reserve r;

	err[0] = '\0';
	if (mig_parse_reserve(b, len, &r, err, sizeof(err)) < 0) {
		err_is_a_string();
		return;
	}
	assert_true(r.n_devices <= MIG_MAX_DEVICES);
	for (uint32_t i = 0; i < r.n_devices; i++)
		assert_true(mig_dev_name_valid(r.dev[i].name));
}

static void check_verdict(const uint8_t *b, uint32_t len)
{
	struct mig_verdict v;
	struct mig_hello_ack a;
	struct mig_hello h;

	if (mig_parse_verdict(b, len, &v, err, sizeof(err)) == 0)
		assert_true(memchr(v.reason, '\0', sizeof(v.reason)) != NULL);
	if (mig_parse_hello_ack(b, len, &a, err, sizeof(err)) == 0)
		assert_true(memchr(a.v.reason, '\0', sizeof(a.v.reason)) != NULL);
	(void)mig_parse_hello(b, len, &h, err, sizeof(err));
	err_is_a_string();
}

/* Feeds one body to the parser its record type selects. */
static void dispatch(uint16_t type, const uint8_t *b, uint32_t len, struct mig_vcpu_state *st,
		     struct mig_vm_state *vms)
{
	struct mig_rec rec = { .type = type, .flags = MIG_F_MANDATORY, .len = len, .body = (uint8_t *)b };

	switch (type) {
	case MIG_REC_RAM:
		check_ram(b, len);
		break;
	case MIG_REC_DEVICE:
		check_device(b, len);
		break;
	case MIG_REC_RESERVE:
		check_reserve(b, len);
		break;
	case MIG_REC_CPU_MP_STATE ... MIG_REC_VM_IRQCHIP:
		err[0] = '\0';
		(void)mig_cpu_rx(st, N_VCPUS, vms, RAM, &rec, err, sizeof(err));
		err_is_a_string();
		break;
	default:
		check_verdict(b, len);
		break;
	}
}

static uint16_t random_type(void)
{
	static const uint16_t types[] = {
		MIG_REC_HELLO, MIG_REC_HELLO_ACK, MIG_REC_RESERVE, MIG_REC_RAM, MIG_REC_CPU_MP_STATE,
		MIG_REC_CPU_REGS, MIG_REC_CPU_SREGS, MIG_REC_CPU_XSAVE, MIG_REC_CPU_XCRS, MIG_REC_CPU_DEBUGREGS,
		MIG_REC_CPU_LAPIC, MIG_REC_CPU_MSRS, MIG_REC_CPU_EVENTS, MIG_REC_VM_CLOCK, MIG_REC_VM_IRQCHIP,
		MIG_REC_DEVICE, MIG_REC_ERROR,
	};
	return types[next() % (sizeof(types) / sizeof(types[0]))];
}

/* A body that is plausible in places: a valid RAM or DEVICE header with
 * random fields, a CPU record id in range, or plain noise. */
static uint32_t random_body(uint16_t type)
{
	uint32_t len = (uint32_t)(next() % 4 ? next() % 700 : next() % MIG_MAX_BODY);

	for (uint32_t i = 0; i < len; i++)
		body[i] = (uint8_t)next();
	if (type == MIG_REC_RAM && next() % 2) {
		uint32_t count = (uint32_t)(next() % 70);
		len = MIG_RAM_HDR_LEN + (next() % 2 ? 0 : count * MIG_PAGE_SIZE);
		if (len > MIG_MAX_BODY)
			len = MIG_MAX_BODY;
		mig_put64(body, (next() % (RAM / MIG_PAGE_SIZE + 8)) * MIG_PAGE_SIZE + (next() % 8 ? 0 : next() % 4096));
		mig_put32(body + 8, count);
		mig_put32(body + 12, (uint32_t)(next() % 3));
	} else if (type >= MIG_REC_CPU_MP_STATE && type <= MIG_REC_CPU_EVENTS && len >= 4) {
		mig_put32(body, (uint32_t)(next() % (N_VCPUS + 1)));
	} else if (type == MIG_REC_DEVICE && len >= MIG_DEVICE_HDR_LEN) {
		memset(body, 0, MIG_DEV_NAME_LEN);
		strcpy((char *)body, next() % 2 ? "virtio-net0" : "platform");
		mig_put32(body + MIG_DEV_NAME_LEN + 4, (uint32_t)(next() % 2 ? len - MIG_DEVICE_HDR_LEN : next()));
	}
	return len;
}

static void test_random_bodies_through_the_stream(void **state)
{
	static struct mig_vcpu_state st[N_VCPUS];
	static struct mig_vm_state vms;
	(void)state;

	log_init("test", LOG_ERROR);
	rng = 0x1234567890abcdefull;
	for (int round = 0; round < 40; round++) {
		struct mig_membuf mb = { 0 };
		struct mig_io io;
		struct mig_rec rec;
		mig_io_mem(&io, &mb);
		memset(st, 0, sizeof(st));
		memset(&vms, 0, sizeof(vms));
		assert_int_equal(mig_write_preamble(&io, MIG_DIR_TO_DEST), 0);
		for (int k = 0; k < 200; k++) {
			uint16_t type = random_type();
			uint32_t len = random_body(type);
			assert_int_equal(mig_send(&io, type, body, len), 0);
		}
		assert_int_equal(mig_read_preamble(&io, MIG_DIR_TO_DEST, err, sizeof(err)), 0);
		int n = 0, ret;
		while ((ret = mig_recv(&io, &rec, buf, sizeof(buf), err, sizeof(err))) == 0) {
			assert_true(rec.len <= sizeof(buf));
			dispatch(rec.type, rec.body, rec.len, st, &vms);
			n++;
		}
		assert_int_equal(ret, -EPIPE);	/* framing intact: all 200 came through */
		assert_int_equal(n, 200);
		(void)mig_cpu_rx_complete(st, N_VCPUS, &vms, err, sizeof(err));
		free(mb.data);
	}
	print_message("# RAM records accepted %u, refused %u; DEVICE accepted %u, refused %u\n", ram_ok, ram_bad,
		      dev_ok, dev_bad);
	assert_true(ram_ok > 0 && ram_bad > 0 && dev_ok > 0 && dev_bad > 0);
}

static void test_mutated_streams(void **state)
{
	(void)state;
	log_init("test", LOG_ERROR);
	rng = 0xfeedfacecafebeefull;
	for (int round = 0; round < 300; round++) {
		struct mig_membuf mb = { 0 };
		struct mig_io io;
		struct mig_rec rec;
		mig_io_mem(&io, &mb);
		mig_write_preamble(&io, MIG_DIR_TO_DEST);
		for (int k = 0; k < 8; k++) {
			uint16_t type = random_type();
			mig_send(&io, type, body, random_body(type));
		}
		/* Flip bytes anywhere (preamble, headers, lengths, CRCs), or cut. */
		for (int f = 0; f < 1 + (int)(next() % 4); f++)
			mb.data[next() % mb.len] ^= (uint8_t)(1u << (next() % 8));
		if (next() % 3 == 0)
			mb.len = next() % mb.len;
		int ret = mig_read_preamble(&io, MIG_DIR_TO_DEST, err, sizeof(err));
		while (ret == 0 && (ret = mig_recv(&io, &rec, buf, sizeof(buf), err, sizeof(err))) == 0)
			assert_true(rec.len <= sizeof(buf));
		/* It ends with an error, never a crash or a hang. */
		assert_true(ret < 0);
		err_is_a_string();
		free(mb.data);
	}
}

static void test_mutated_bodies(void **state)
{
	static struct mig_vcpu_state st[N_VCPUS];
	static struct mig_vm_state vms;
	(void)state;

	rng = 42;
	for (int round = 0; round < 20000; round++) {
		uint16_t type = random_type();
		uint32_t len = random_body(type);
		for (int f = 0; f < (int)(next() % 3); f++)
			if (len)
				body[next() % len] ^= (uint8_t)next();
		dispatch(type, body, (uint32_t)(next() % 8 ? len : next() % (len + 1)), st, &vms);
	}
}

/* Bit by bit, the definition: reflected, polynomial 0x82F63B78. */
static uint32_t crc32c_reference(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c_matches_the_definition(void **state)
{
	static uint8_t data[3 * 4096 * 3 + 100];
	(void)state;
	rng = 7;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)next();
	/* Lengths around the three-lane block size, offsets, and chaining. */
	const size_t lens[] = { 0, 1, 7, 8, 4095, 12287, 12288, 12289, 24576, 24577, 36863, sizeof(data) - 5 };
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		for (size_t off = 0; off < 5; off += 2) {
			uint32_t init = (uint32_t)next();
			assert_int_equal(mig_crc32c(init, data + off, lens[k]), crc32c_reference(init, data + off, lens[k]));
		}
	}
	uint32_t whole = mig_crc32c(0, data, sizeof(data));
	uint32_t parts = mig_crc32c(mig_crc32c(0, data, 20000), data + 20000, sizeof(data) - 20000);
	assert_int_equal(whole, parts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_matches_the_definition),
		cmocka_unit_test(test_random_bodies_through_the_stream),
		cmocka_unit_test(test_mutated_streams),
		cmocka_unit_test(test_mutated_bodies),
	};
	return cmocka_run_group_tests_name("mig_random", tests, NULL, NULL);
}
