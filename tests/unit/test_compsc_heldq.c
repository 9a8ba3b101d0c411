/* CompSC held-frame queue (compsc/heldq.c): frames held during the
 * downtime come out on the destination in arrival order, exactly once;
 * the queue is bounded and counts what it drops; its blob survives a
 * round trip, and hostile blobs are refused without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/csc_errno.h"
#include "../../compsc/heldq.h"

/* A frame whose bytes say which one it is (len >= 16: the number is at 12). */
static size_t make_frame(uint8_t *f, uint32_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i);
	memcpy(f + 12, &seq, 4);
	return len;
}

struct sink {
	uint32_t seqs[1024];
	size_t lens[1024];
	unsigned n;
	int fail_at;	/* fail the delivery when n reaches this (once) */
};

static int deliver(void *ctx, const uint8_t *frame, size_t len)
{
	struct sink *s = ctx;
	uint32_t seq;

	if (s->fail_at && s->n == (unsigned)s->fail_at) {
		s->fail_at = 0;
		return -EAGAIN;
	}
	memcpy(&seq, frame + 12, 4);
	for (size_t i = 0; i < len; i++)
		if (i < 12 || i >= 16)
			assert_int_equal(frame[i], (uint8_t)(seq * 31 + i));
	s->seqs[s->n] = seq;
	s->lens[s->n++] = len;
	return 0;
}

/* For mutated blobs: any content, but within the bounds load promised. */
static int deliver_any(void *ctx, const uint8_t *frame, size_t len)
{
	struct sink *s = ctx;

	assert_true(len >= CSC_HELDQ_MIN_FRAME && len <= CSC_HELDQ_MAX_FRAME);
	s->lens[0] += frame[0] + frame[len - 1];	/* touch both ends */
	s->n++;
	return 0;
}

static void test_order_and_exactly_once(void **state)
{
	static uint8_t storage[64 * 1024];
	struct csc_heldq q;
	struct sink s = { .n = 0 };
	uint8_t f[2000];
	(void)state;

	assert_int_equal(csc_heldq_init(&q, storage, sizeof(storage), 100), 0);
	for (uint32_t i = 0; i < 20; i++)
		assert_int_equal(csc_heldq_push(&q, f, make_frame(f, i, 60 + i * 50)), 0);
	assert_int_equal(q.accepted, 20);
	assert_int_equal(csc_heldq_pending(&q), 20);

	/* The consumer fails at the 5th frame: 4 delivered, then the rest,
	 * starting with the one that failed. */
	s.fail_at = 4;
	assert_int_equal(csc_heldq_deliver(&q, deliver, &s), 4);
	assert_int_equal(csc_heldq_pending(&q), 16);
	assert_int_equal(csc_heldq_deliver(&q, deliver, &s), 16);
	assert_int_equal(csc_heldq_deliver(&q, deliver, &s), 0);	/* nothing twice */
	assert_int_equal(s.n, 20);
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(s.seqs[i], i);
		assert_int_equal(s.lens[i], 60 + i * 50);
	}
}

static int always_fail(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx, (void)frame, (void)len;
	return -EAGAIN;
}

static void test_bounds_and_drop_counting(void **state)
{
	uint8_t storage[CSC_HELDQ_HDR + 3 * (4 + 100)];
	struct csc_heldq q;
	uint8_t f[CSC_HELDQ_MAX_FRAME + 1];
	(void)state;

	assert_int_equal(csc_heldq_init(&q, storage, 10, 5), -EINVAL);	/* no room for the header */
	assert_int_equal(csc_heldq_init(&q, NULL, 100, 5), -EINVAL);
	/* Bytes: three 100-byte frames fill it exactly. */
	assert_int_equal(csc_heldq_init(&q, storage, sizeof(storage), 10), 0);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(csc_heldq_push(&q, f, make_frame(f, i, 100)), 0);
	assert_int_equal(csc_heldq_push(&q, f, make_frame(f, 3, 14)), -ENOSPC);
	assert_int_equal(csc_heldq_push(&q, f, make_frame(f, 4, 100)), -ENOSPC);
	assert_int_equal(q.accepted, 3);
	assert_int_equal(q.dropped_full, 2);
	/* Lengths outside an Ethernet frame's: counted apart. */
	assert_int_equal(csc_heldq_push(&q, f, 13), -EINVAL);
	assert_int_equal(csc_heldq_push(&q, f, CSC_HELDQ_MAX_FRAME + 1), -EINVAL);
	assert_int_equal(q.dropped_invalid, 2);
	assert_int_equal(q.dropped_full, 2);

	/* Frames: max_frames reached before the bytes. */
	static uint8_t big[1 << 20];
	assert_int_equal(csc_heldq_init(&q, big, sizeof(big), 4), 0);
	for (uint32_t i = 0; i < 6; i++)
		csc_heldq_push(&q, f, make_frame(f, i, 64));
	assert_int_equal(q.count, 4);
	assert_int_equal(q.accepted, 4);
	assert_int_equal(q.dropped_full, 2);
	/* The largest frame fits. */
	assert_int_equal(csc_heldq_init(&q, big, sizeof(big), 4), 0);
	assert_int_equal(csc_heldq_push(&q, f, make_frame(f, 9, CSC_HELDQ_MAX_FRAME)), 0);

	/* Nothing is lost when the consumer cannot take any. */
	assert_int_equal(csc_heldq_deliver(&q, always_fail, NULL), -EAGAIN);
	assert_int_equal(csc_heldq_pending(&q), 1);
}

static void test_round_trip(void **state)
{
	static uint8_t src_store[256 * 1024], dst_store[256 * 1024];
	struct csc_heldq src, dst;
	struct sink s = { .n = 0 };
	uint8_t f[1600];
	char err[128];
	size_t len;
	(void)state;

	assert_int_equal(csc_heldq_init(&src, src_store, sizeof(src_store), 200), 0);
	for (uint32_t i = 0; i < 150; i++)
		csc_heldq_push(&src, f, make_frame(f, i, 16 + (i * 97) % 1500));
	for (uint32_t i = 0; i < 60; i++)	/* 50 accepted, 10 dropped */
		csc_heldq_push(&src, f, make_frame(f, 150 + i, 60));
	assert_int_equal(src.accepted, 200);
	assert_int_equal(src.dropped_full, 10);
	const void *blob = csc_heldq_blob(&src, &len);
	assert_ptr_equal(blob, src_store);
	/* The header states what it holds, little-endian. */
	const uint8_t *b = blob;
	assert_int_equal(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24, CSC_HELDQ_MAGIC);
	assert_int_equal(b[8] | b[9] << 8, 200);
	assert_int_equal(b[0x18], 10);

	assert_int_equal(csc_heldq_init(&dst, dst_store, sizeof(dst_store), 256), 0);
	assert_int_equal(csc_heldq_load(&dst, blob, len, err, sizeof(err)), 0);
	assert_int_equal(dst.count, 200);
	assert_int_equal(dst.accepted, 200);
	assert_int_equal(dst.dropped_full, 10);
	assert_int_equal(csc_heldq_deliver(&dst, deliver, &s), 200);
	for (unsigned i = 0; i < 200; i++) {
		assert_int_equal(s.seqs[i], i);
		assert_int_equal(s.lens[i], i < 150 ? 16 + (i * 97) % 1500 : 60);
	}
	/* An empty queue round-trips too. */
	assert_int_equal(csc_heldq_init(&src, src_store, sizeof(src_store), 200), 0);
	blob = csc_heldq_blob(&src, &len);
	assert_int_equal(len, CSC_HELDQ_HDR);
	assert_int_equal(csc_heldq_load(&dst, blob, len, err, sizeof(err)), 0);
	assert_int_equal(csc_heldq_pending(&dst), 0);
}

/* A valid blob of three frames, built by hand. */
static size_t build_blob(uint8_t *b)
{
	struct csc_heldq q;
	uint8_t f[100];
	size_t len;

	assert_int_equal(csc_heldq_init(&q, b, 4096, 10), 0);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(csc_heldq_push(&q, f, make_frame(f, i, 20 + i)), 0);
	csc_heldq_blob(&q, &len);
	return len;
}

static void expect_refused(const uint8_t *blob, size_t len, int want_ret, const char *want)
{
	static uint8_t store[4096];
	struct csc_heldq q;
	char err[160];
	uint8_t f[64];

	assert_int_equal(csc_heldq_init(&q, store, sizeof(store), 10), 0);
	assert_int_equal(csc_heldq_push(&q, f, make_frame(f, 77, 30)), 0);
	assert_int_equal(csc_heldq_load(&q, blob, len, err, sizeof(err)), want_ret);
	if (!strstr(err, want))
		fail_msg("error '%s' does not mention '%s'", err, want);
	/* Unchanged on error: still the one frame it had. */
	assert_int_equal(q.count, 1);
	assert_int_equal(csc_heldq_pending(&q), 1);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_hostile_blobs(void **state)
{
	uint8_t b[4096], m[4096];
	size_t len = build_blob(b);
	(void)state;

	assert_int_equal(len, 32 + 24 + 25 + 26);
	/* Every truncation is refused. */
	for (size_t cut = 0; cut < len; cut++)
		expect_refused(b, cut, -EINVAL, "held-frame blob");
	expect_refused(NULL, 100, -EINVAL, "0 bytes is shorter than its header");
	/* Trailing bytes. */
	memcpy(m, b, len);
	m[len] = 0;
	expect_refused(m, len + 1, -EINVAL, "1 bytes follow the last frame");
#define MUT(stmt, ret, want)                    \
	do {                                    \
		memcpy(m, b, len);              \
		stmt;                           \
		expect_refused(m, len, ret, want); \
	} while (0)
	MUT(m[0] ^= 1, -EINVAL, "bad magic");
	MUT(m[4] = 2, -EINVAL, "version 2 unknown");
	MUT(m[6] = 1, -EINVAL, "reserved header field 1");
	MUT(put32(m + 8, 4), -EINVAL, "accepted count 3 is below");
	MUT((put32(m + 8, 4), put32(m + 16, 10)), -EINVAL, "frame 3 header runs past the end");
	MUT(put32(m + 8, 0xffffffffu), -EINVAL, "accepted count 3 is below");
	MUT(put32(m + 8, 2), -EINVAL, "bytes follow the last frame");
	MUT(put32(m + 12, 999), -EINVAL, "byte count 999 does not match");
	MUT(m[16] = 1, -EINVAL, "accepted count 1 is below the frames it holds");
	MUT((m[32] = 13, m[33] = 0), -EINVAL, "frame length 13 outside");
	MUT((m[32] = 0xff, m[33] = 0xff), -EINVAL, "frame length 65535 outside");
	MUT((m[32] = 0xff, m[33] = 0x3e), -EINVAL, "frame 0 runs past the end");	/* 16127 */
	MUT(m[34] = 1, -EINVAL, "frame 0 reserved field");
	MUT(m[32] = 21, -EINVAL, "frame 1 reserved field");	/* shifts the walk by one byte */
	/* Valid, but more than this queue takes. */
	uint8_t bigq[CSC_HELDQ_HDR + 200 * 18];
	struct csc_heldq q;
	uint8_t f[14] = { 0 };
	size_t blen;
	assert_int_equal(csc_heldq_init(&q, bigq, sizeof(bigq), 200), 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(csc_heldq_push(&q, f, 14), 0);
	const void *blob = csc_heldq_blob(&q, &blen);
	expect_refused(blob, blen, -ENOSPC, "20 frames in");
	/* And no message buffer is fine. */
	struct csc_heldq d;
	static uint8_t dst[4096];
	assert_int_equal(csc_heldq_init(&d, dst, sizeof(dst), 10), 0);
	assert_int_equal(csc_heldq_load(&d, b, 10, NULL, 0), -EINVAL);
}

static void test_mutated_blobs_never_crash(void **state)
{
	static uint8_t store[8192];
	uint8_t b[4096];
	size_t len = build_blob(b);
	unsigned ok = 0, refused = 0;
	(void)state;

	srand(99);
	for (int iter = 0; iter < 50000; iter++) {
		size_t n = rand() % 8 ? len : (size_t)rand() % (len + 40);
		uint8_t *m = malloc(n ? n : 1);	/* exact size: ASan sees overreads */
		assert_non_null(m);
		memcpy(m, b, n < len ? n : len);
		for (size_t i = len; i < n; i++)
			m[i] = (uint8_t)rand();
		for (int k = 1 + rand() % 4; k > 0 && n; k--)
			m[(size_t)rand() % (rand() % 2 ? (n < 40 ? n : 40) : n)] = (uint8_t)rand();
		struct csc_heldq q;
		char err[32];
		assert_int_equal(csc_heldq_init(&q, store, sizeof(store), 64), 0);
		if (csc_heldq_load(&q, m, n, err, (size_t)rand() % sizeof(err)) == 0) {
			/* Whatever was accepted delivers within bounds. */
			struct sink s = { .n = 0 };
			assert_true(q.count <= 64);
			int got = csc_heldq_deliver(&q, deliver_any, &s);
			assert_int_equal(got, (int)q.count);
			ok++;
		} else {
			refused++;
		}
		free(m);
	}
	print_message("# mutated blobs: %u accepted, %u refused\n", ok, refused);
	assert_true(ok > 0 && refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_exactly_once),
		cmocka_unit_test(test_bounds_and_drop_counting),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile_blobs),
		cmocka_unit_test(test_mutated_blobs_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
