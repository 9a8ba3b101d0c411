/* Descriptor ring offset: where the hardware's ring view and the driver's
 * meet after a migration.
 *
 * Ring head registers (RDH/TDH) are read-only and start at 0 on the
 * destination VF, while the driver's software ring (next_to_clean,
 * next_to_use, the descriptors and buffers in guest memory) keeps its
 * position. The driver keeps an offset between the two views:
 *
 *     hw = (sw - offset) mod size        sw = (hw + offset) mod size
 *
 * and applies it wherever an index crosses to or from the device (tail
 * writes, head reads) and to descriptor memory: the device fetches hw
 * index i from slot i of the ring (RDBA/TDBA + 16 i), so the descriptor of
 * sw index s lives in slot (s - offset) mod size. When the offset changes
 * at restoration the driver rotates the descriptors in place to their new
 * slots (guest/drivers/igbvf/compsc.c rotate_descs); the bookkeeping per
 * sw index (buffer addresses, pbufs) does not move. Before the first
 * migration the offset is 0.
 *
 * At restoration the offset is chosen so that the destination's head 0 is
 * the first descriptor the source had not completed:
 *
 *     offset = next_to_clean + completed      (mod size)
 *
 * where completed counts the descriptors from next_to_clean on whose done
 * bit (DD) is already set in guest memory - completed by the source but not
 * yet reaped by the driver (the final copy carried their write-back). The
 * device then owns exactly the descriptors the source still owned:
 *   - TX: frames posted and not sent are sent by the destination; frames
 *     the source sent (DD set) are not sent again;
 *   - RX: buffers posted and not filled stay posted; frames received but
 *     not reaped are not overwritten.
 * The tail to program is next_to_use in the hardware's view. */
#ifndef CSC_CORE_RING_H
#define CSC_CORE_RING_H

#include <stdint.h>

struct csc_ring_map {
	uint32_t size;		/* descriptors in the ring */
	uint32_t offset;	/* sw - hw, in [0, size) */
};

/* What to program on the destination. */
struct csc_ring_restore {
	uint32_t offset;	/* the new csc_ring_map.offset */
	uint32_t head;		/* RDH/TDH: always 0, the destination's reset value */
	uint32_t tail;		/* RDT/TDT, hardware view */
};

static inline uint32_t csc_ring_sw_to_hw(const struct csc_ring_map *m, uint32_t sw)
{
	return (uint32_t)(((uint64_t)sw % m->size + m->size - m->offset) % m->size);
}

static inline uint32_t csc_ring_hw_to_sw(const struct csc_ring_map *m, uint32_t hw)
{
	return (uint32_t)(((uint64_t)hw % m->size + m->offset) % m->size);
}

/* Computes the offset and tail for a ring of size descriptors whose driver
 * stands at next_to_clean / next_to_use, with completed descriptors from
 * next_to_clean on already done (see above). Returns 0, or -EINVAL if size
 * is 0, an index is not below size, or completed exceeds the descriptors
 * the hardware owned ((next_to_use - next_to_clean) mod size). */
int csc_ring_restore(uint32_t size, uint32_t next_to_clean, uint32_t next_to_use, uint32_t completed,
		     struct csc_ring_restore *out);

#endif
