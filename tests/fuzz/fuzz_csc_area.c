/* libFuzzer target: what the hypervisor takes from CompSC's untrusted
 * parties - the shared area (guest memory, compsc/shared_area.c) and the
 * held-frame blob (the migration stream, compsc/heldq.c).
 *
 * Input: one byte selects the party, the rest is its bytes.
 *   byte 0 even: a shared area. Byte 1 picks the guest's RAM size (one of
 *     four, 64 KiB .. 4 GiB) and the rest is the hypervisor's copy of the
 *     area, in a buffer of exactly that length (ASan catches any read
 *     past it). Accepted areas are then staged as at stop-and-copy
 *     (I/O registers and counters from a fake PF) into a live area.
 *   byte 0 odd: a held-frame blob, loaded into a queue of a capacity and
 *     frame limit taken from bytes 1..2, then delivered.
 *
 * Beyond the sanitizers it checks what the validator promises the
 * hypervisor: an accepted area has every count within its bound, every
 * DMA region non-empty, non-wrapping and inside RAM; a refused one always
 * says why; staging writes only within the live area's lists. A loaded
 * blob holds at most the queue's limits, and delivers exactly the frames
 * it says it holds, each within the frame size bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../compsc/heldq.h"
#include "../../compsc/shared_area.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_csc_area: broken promise: %s\n", #c); \
			abort();                                              \
		}                                                             \
	} while (0)

static int fake_pf_read(void *ctx, uint32_t offset, uint32_t *value)
{
	(void)ctx;
	*value = offset * 2654435761u;
	return 0;
}

static void fuzz_area(const uint8_t *data, size_t len)
{
	static const uint64_t rams[4] = { 64u << 10, 128u << 20, 1ull << 30, 4ull << 30 };
	uint64_t ram = rams[data[0] & 3];
	char err[256] = "";

	data++, len--;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, data, len);
	int ret = csc_area_validate(copy, len, ram, err, sizeof(err));
	if (ret < 0) {
		CHECK(err[0] != '\0');
		free(copy);
		return;
	}
	CHECK(len >= CSC_AREA_SIZE);
	struct csc_shared_area a;
	memcpy(&a, copy, sizeof(a));
	CHECK(a.n_ioregs <= CSC_AREA_MAX_IOREGS && a.n_counters <= CSC_AREA_MAX_COUNTERS &&
	      a.n_dma <= CSC_AREA_MAX_DMA);
	for (uint32_t i = 0; i < a.n_dma; i++) {
		CHECK(a.dma[i].len > 0);
		CHECK(a.dma[i].gpa + a.dma[i].len > a.dma[i].gpa);
		CHECK(a.dma[i].gpa + a.dma[i].len <= ram);
	}
	/* Stop-and-copy staging, into a live area the guest may have
	 * changed meanwhile (here: the same bytes), with guards around it. */
	struct {
		uint8_t before[64];
		struct csc_shared_area live;
		uint8_t after[64];
	} g;
	memset(g.before, 0xa5, sizeof(g.before));
	memset(g.after, 0xa5, sizeof(g.after));
	memcpy(&g.live, copy, sizeof(g.live));
	CHECK(csc_area_stage_ioregs(&g.live, &a, fake_pf_read, NULL) == 0);
	CHECK(csc_area_stage_counters(&g.live, &a, fake_pf_read, NULL) == 0);
	CHECK(g.live.n_ioregs == a.n_ioregs);
	for (size_t i = 0; i < sizeof(g.before); i++)
		CHECK(g.before[i] == 0xa5 && g.after[i] == 0xa5);
	free(copy);
}

static int count_frame(void *ctx, const uint8_t *frame, size_t len)
{
	uint32_t *n = ctx;

	CHECK(len >= CSC_HELDQ_MIN_FRAME && len <= CSC_HELDQ_MAX_FRAME);
	(void)frame[len - 1];
	(*n)++;
	return 0;
}

static void fuzz_blob(const uint8_t *data, size_t len)
{
	size_t cap = CSC_HELDQ_HDR + (size_t)data[1] * 256;
	uint32_t max_frames = 1 + data[2];
	char err[256] = "";

	data += 3, len -= 3;
	uint8_t *blob = malloc(len ? len : 1), *storage = malloc(cap);
	struct csc_heldq q;
	if (!blob || !storage || csc_heldq_init(&q, storage, cap, max_frames) < 0)
		goto out;
	memcpy(blob, data, len);
	if (csc_heldq_load(&q, blob, len, err, sizeof(err)) < 0) {
		CHECK(csc_heldq_pending(&q) == 0);
		goto out;
	}
	uint32_t held = csc_heldq_pending(&q), n = 0;
	CHECK(held <= max_frames);
	CHECK(csc_heldq_deliver(&q, count_frame, &n) >= 0);
	CHECK(n == held && csc_heldq_pending(&q) == 0);
out:
	free(blob);
	free(storage);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len < 3)
		return 0;
	if (data[0] & 1)
		fuzz_blob(data, len);
	else
		fuzz_area(data + 1, len - 1);
	return 0;
}
