/* Bump allocator over the largest RAM region of the memory map. The guest
 * allocates its rings and buffers once at start; nothing is freed. */
#include "guest/rt.h"
#include "rt_internal.h"

static uint64_t heap_next, heap_end;

void heap_init(const struct csc_bootinfo *bi)
{
	for (uint32_t i = 0; i < bi->n_mem; i++) {
		const struct csc_boot_mem *m = &bi->mem[i];
		if (m->type == CSC_MEM_RAM && m->len > heap_end - heap_next) {
			heap_next = m->base;
			heap_end = m->base + m->len;
		}
	}
}

void *rt_alloc(size_t size, size_t align)
{
	if (align == 0)
		align = 16;
	uint64_t p = (heap_next + align - 1) & ~(uint64_t)(align - 1);
	if (p < heap_next || p + size < p || p + size > heap_end)
		panic("out of memory: %zu bytes wanted, %llu free", size,
		      (unsigned long long)(heap_end - heap_next));
	heap_next = p + size;
	return (void *)p;
}

uint64_t rt_heap_free(void)
{
	return heap_end - heap_next;
}
