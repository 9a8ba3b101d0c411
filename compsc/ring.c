/* Descriptor ring offset: the restoration arithmetic of ring.h. */
#include "ring.h"

#include "../common/csc_errno.h"

int csc_ring_restore(uint32_t size, uint32_t next_to_clean, uint32_t next_to_use, uint32_t completed,
		     struct csc_ring_restore *out)
{
	if (size == 0 || next_to_clean >= size || next_to_use >= size)
		return -EINVAL;
	/* The hardware owned [next_to_clean, next_to_use): that many, the
	 * completed ones first. */
	uint32_t owned = (uint32_t)(((uint64_t)next_to_use + size - next_to_clean) % size);
	if (completed > owned)
		return -EINVAL;
	struct csc_ring_map m = { .size = size,
				  .offset = (uint32_t)(((uint64_t)next_to_clean + completed) % size) };
	out->offset = m.offset;
	out->head = 0;
	out->tail = csc_ring_sw_to_hw(&m, next_to_use);
	return 0;
}
