/* Self-emulated counters: the arithmetic of counters.h. */
#include "counters.h"

#include "regclass.h"

void csc_counter_init(struct csc_counter *c, uint32_t offset, uint32_t raw)
{
	c->offset = offset;
	c->last_raw = raw;
	c->base = 0;
}

uint64_t csc_counter_update(struct csc_counter *c, uint32_t raw)
{
	/* The register only counts up: a smaller reading means it passed
	 * 2^32 once since the last one. */
	if (raw < c->last_raw)
		c->base += 1ull << 32;
	c->last_raw = raw;
	return csc_counter_total(c);
}

uint64_t csc_counter_total(const struct csc_counter *c)
{
	return c->base + c->last_raw;
}

void csc_counter_migrated(struct csc_counter *c, uint32_t raw)
{
	/* Keep total = base + last_raw while last_raw becomes raw. Modulo
	 * 2^64: base may wrap below zero when raw exceeds the total. */
	c->base = c->base + c->last_raw - raw;
	c->last_raw = raw;
}

unsigned csc_counters_setup(struct csc_counter *list, unsigned max)
{
	unsigned it = 0, n = 0;
	const struct vf_reg_info *r;

	while (n < max && (r = csc_reg_next(CSC_REG_COUNTER, &it)))
		csc_counter_init(&list[n++], r->offset, 0);
	return n;
}
