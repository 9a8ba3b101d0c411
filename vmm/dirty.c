/* The VMM-side dirty bitmap: pages of guest RAM that this process wrote
 * (device models: used rings, received frames). KVM's dirty log does not see
 * these writes, so migration ORs this bitmap into it each round.
 *
 * One bit per 4 KiB page, set with atomic OR from any thread; the migration
 * engine takes and clears words with vm_dirty_collect(). */
#include <stdlib.h>

#include "../common/layout.h"
#include "vm.h"

int vm_dirty_init(struct vm *vm)
{
	uint64_t pages = (vm->ram_size + CSC_PAGE_SIZE - 1) / CSC_PAGE_SIZE;

	vm->vmm_dirty_words = (pages + 63) / 64;
	vm->vmm_dirty = calloc(vm->vmm_dirty_words, sizeof(uint64_t));
	return vm->vmm_dirty ? 0 : -1;
}

void vm_dirty_free(struct vm *vm)
{
	free(vm->vmm_dirty);
	vm->vmm_dirty = NULL;
	vm->vmm_dirty_words = 0;
}

void vm_mark_dirty(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!vm->vmm_dirty || !len || gpa >= vm->ram_size)
		return;
	if (len > vm->ram_size - gpa)
		len = vm->ram_size - gpa;
	uint64_t first = gpa / CSC_PAGE_SIZE, last = (gpa + len - 1) / CSC_PAGE_SIZE;
	for (uint64_t p = first; p <= last; p++)
		__atomic_fetch_or(&vm->vmm_dirty[p / 64], 1ull << (p % 64), __ATOMIC_RELAXED);
}

void vm_dirty_collect(struct vm *vm, uint64_t *out, size_t words)
{
	for (size_t i = 0; i < words && i < vm->vmm_dirty_words; i++)
		out[i] |= __atomic_exchange_n(&vm->vmm_dirty[i], 0, __ATOMIC_RELAXED);
}
