/* The held-frame queue: frames that arrive for the VM during the downtime.
 *
 * Between the moment the source PF stops the VF's queues (stop-and-copy)
 * and the destination's activation, frames still arrive for the VM at the
 * source NIC. They are held here (bounded in frames and bytes; counted:
 * accepted, dropped because full, dropped as invalid), carried to the
 * destination as one byte blob, and delivered there after activation, in
 * arrival order, each exactly once.
 *
 * The caller supplies the storage (no allocation in the core); the
 * storage holds the blob itself, so the source sends csc_heldq_blob() as
 * it is. Blob format, little-endian, no padding:
 *
 *   0x00  u32 magic 'CHQ1' (0x31514843)
 *   0x04  u16 version (1)   u16 reserved (0)
 *   0x08  u32 count         frames that follow
 *   0x0c  u32 bytes         sum of their lengths
 *   0x10  u64 accepted      frames the source accepted (>= count)
 *   0x18  u64 dropped       frames the source dropped (queue full)
 *   0x20  count x { u16 len, u16 reserved (0), len bytes }
 *
 * The destination treats the blob as hostile: csc_heldq_load checks every
 * field and length, and that the records fill the blob exactly, before it
 * copies anything. */
#ifndef CSC_CORE_HELDQ_H
#define CSC_CORE_HELDQ_H

#include <stddef.h>
#include <stdint.h>

#define CSC_HELDQ_MAGIC		0x31514843u	/* "CHQ1" little-endian */
#define CSC_HELDQ_VERSION	1
#define CSC_HELDQ_HDR		32u
#define CSC_HELDQ_REC_HDR	4u
#define CSC_HELDQ_MIN_FRAME	14u	/* an Ethernet header */
#define CSC_HELDQ_MAX_FRAME	16128u	/* the largest max frame the PF accepts */

struct csc_heldq {
	uint8_t *buf;		/* caller's storage: header + records */
	size_t cap;
	size_t used;		/* bytes of buf in use */
	uint32_t max_frames;
	uint32_t count;		/* frames held */
	uint64_t accepted;	/* pushed and held (on the destination: the source's figure) */
	uint64_t dropped_full;	/* refused: max_frames or cap reached */
	uint64_t dropped_invalid; /* refused: length outside [MIN_FRAME, MAX_FRAME] */
	uint32_t delivered;	/* frames handed to the deliver callback */
	size_t cursor;		/* offset of the next frame to deliver */
};

/* Uses storage (cap bytes, at least CSC_HELDQ_HDR) for at most max_frames
 * frames. 0 or -EINVAL. */
int csc_heldq_init(struct csc_heldq *q, void *storage, size_t cap, uint32_t max_frames);
/* Holds a copy of a frame. 0; -ENOSPC when full (counted in dropped_full);
 * -EINVAL for a length outside [MIN_FRAME, MAX_FRAME] (dropped_invalid). */
int csc_heldq_push(struct csc_heldq *q, const void *frame, size_t len);
/* The serialised queue: a pointer into the storage and its length. */
const void *csc_heldq_blob(const struct csc_heldq *q, size_t *len);
/* Replaces q's contents with the frames of a blob from the source, after
 * checking all of it. 0; -EINVAL (malformed: reason in err) or -ENOSPC
 * (more frames or bytes than q takes); q is unchanged on error. */
int csc_heldq_load(struct csc_heldq *q, const void *blob, size_t len, char *err, size_t errlen);

/* Hands each frame not delivered yet to fn, in arrival order. A frame
 * counts as delivered only when fn returns 0; on an error the delivery
 * stops there and the next call starts with that frame. Returns the
 * number delivered by this call, or fn's error if none was. */
typedef int (*csc_heldq_deliver_fn)(void *ctx, const uint8_t *frame, size_t len);
int csc_heldq_deliver(struct csc_heldq *q, csc_heldq_deliver_fn fn, void *ctx);
/* Frames held and not delivered yet. */
uint32_t csc_heldq_pending(const struct csc_heldq *q);

#endif
