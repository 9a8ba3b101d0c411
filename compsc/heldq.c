/* The held-frame queue and its blob: see heldq.h for the format. The
 * storage is kept in blob form at all times (the header is rewritten on
 * every push), so serialising costs nothing at stop-and-copy. */
#include "heldq.h"

#include "../common/csc_errno.h"
#include "util.h"

static void write_header(struct csc_heldq *q)
{
	uint8_t *h = q->buf;

	csc_st32(h + 0x00, CSC_HELDQ_MAGIC);
	csc_st16(h + 0x04, CSC_HELDQ_VERSION);
	csc_st16(h + 0x06, 0);
	csc_st32(h + 0x08, q->count);
	csc_st32(h + 0x0c, (uint32_t)(q->used - CSC_HELDQ_HDR - (size_t)q->count * CSC_HELDQ_REC_HDR));
	csc_st64(h + 0x10, q->accepted);
	csc_st64(h + 0x18, q->dropped_full);
}

int csc_heldq_init(struct csc_heldq *q, void *storage, size_t cap, uint32_t max_frames)
{
	if (!storage || cap < CSC_HELDQ_HDR)
		return -EINVAL;
	csc_zero(q, sizeof(*q));
	q->buf = storage;
	q->cap = cap;
	q->max_frames = max_frames;
	q->used = CSC_HELDQ_HDR;
	q->cursor = CSC_HELDQ_HDR;
	write_header(q);
	return 0;
}

int csc_heldq_push(struct csc_heldq *q, const void *frame, size_t len)
{
	if (len < CSC_HELDQ_MIN_FRAME || len > CSC_HELDQ_MAX_FRAME) {
		q->dropped_invalid++;
		return -EINVAL;
	}
	if (q->count >= q->max_frames || q->cap - q->used < CSC_HELDQ_REC_HDR + len) {
		q->dropped_full++;
		write_header(q);
		return -ENOSPC;
	}
	uint8_t *rec = q->buf + q->used;
	csc_st16(rec, (uint16_t)len);
	csc_st16(rec + 2, 0);
	csc_copy(rec + CSC_HELDQ_REC_HDR, frame, len);
	q->used += CSC_HELDQ_REC_HDR + len;
	q->count++;
	q->accepted++;
	write_header(q);
	return 0;
}

const void *csc_heldq_blob(const struct csc_heldq *q, size_t *len)
{
	*len = q->used;
	return q->buf;
}

static int reject(struct csc_msg *m, const char *what, uint64_t v, const char *why)
{
	csc_msg_str(m, what);
	csc_msg_dec(m, v);
	csc_msg_str(m, why);
	return -EINVAL;
}

int csc_heldq_load(struct csc_heldq *q, const void *blob, size_t len, char *err, size_t errlen)
{
	const uint8_t *b = blob;
	struct csc_msg m;

	csc_msg_init(&m, err, errlen);
	if (!b || len < CSC_HELDQ_HDR)
		return reject(&m, "held-frame blob of ", b ? len : 0, " bytes is shorter than its header");
	if (csc_ld32(b) != CSC_HELDQ_MAGIC) {
		csc_msg_str(&m, "held-frame blob: bad magic ");
		csc_msg_hex(&m, csc_ld32(b));
		return -EINVAL;
	}
	if (csc_ld16(b + 4) != CSC_HELDQ_VERSION)
		return reject(&m, "held-frame blob: version ", csc_ld16(b + 4), " unknown");
	if (csc_ld16(b + 6))
		return reject(&m, "held-frame blob: reserved header field ", csc_ld16(b + 6), " is not 0");
	uint32_t count = csc_ld32(b + 8), bytes = csc_ld32(b + 12);
	uint64_t accepted = csc_ld64(b + 16), dropped = csc_ld64(b + 24);
	if (accepted < count)
		return reject(&m, "held-frame blob: accepted count ", accepted, " is below the frames it holds");

	/* Walk every record within len before trusting count or bytes. */
	size_t off = CSC_HELDQ_HDR;
	uint64_t sum = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (len - off < CSC_HELDQ_REC_HDR)
			return reject(&m, "held-frame blob: frame ", i, " header runs past the end");
		uint16_t flen = csc_ld16(b + off);
		if (csc_ld16(b + off + 2))
			return reject(&m, "held-frame blob: frame ", i, " reserved field is not 0");
		if (flen < CSC_HELDQ_MIN_FRAME || flen > CSC_HELDQ_MAX_FRAME)
			return reject(&m, "held-frame blob: frame length ", flen, " outside 14..16128");
		off += CSC_HELDQ_REC_HDR;
		if (len - off < flen)
			return reject(&m, "held-frame blob: frame ", i, " runs past the end");
		off += flen;
		sum += flen;
	}
	if (off != len)
		return reject(&m, "held-frame blob: ", len - off, " bytes follow the last frame");
	if (sum != bytes)
		return reject(&m, "held-frame blob: byte count ", bytes, " does not match the frames");
	if (count > q->max_frames || len > q->cap) {
		csc_msg_str(&m, "held-frame blob: ");
		csc_msg_dec(&m, count);
		csc_msg_str(&m, " frames in ");
		csc_msg_dec(&m, len);
		csc_msg_str(&m, " bytes do not fit this queue");
		return -ENOSPC;
	}

	csc_copy(q->buf, b, len);
	q->used = len;
	q->count = count;
	q->accepted = accepted;
	q->dropped_full = dropped;
	q->dropped_invalid = 0;
	q->delivered = 0;
	q->cursor = CSC_HELDQ_HDR;
	return 0;
}

int csc_heldq_deliver(struct csc_heldq *q, csc_heldq_deliver_fn fn, void *ctx)
{
	int n = 0;

	/* Records were written by push or checked by load: in bounds. */
	while (q->delivered < q->count) {
		uint16_t flen = csc_ld16(q->buf + q->cursor);
		int ret = fn(ctx, q->buf + q->cursor + CSC_HELDQ_REC_HDR, flen);
		if (ret)
			return n ? n : ret;
		q->cursor += CSC_HELDQ_REC_HDR + flen;
		q->delivered++;
		n++;
	}
	return n;
}

uint32_t csc_heldq_pending(const struct csc_heldq *q)
{
	return q->count - q->delivered;
}
