#include "boot.h"

#include <string.h>

#include "../common/layout.h"

#define PTE_P	0x001ull
#define PTE_W	0x002ull
#define PTE_U	0x004ull
#define PTE_PWT	0x008ull
#define PTE_PCD	0x010ull
#define PTE_PS	0x080ull

void boot_build_page_tables(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + CSC_PT_PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(ram + CSC_PT_PDPT_GPA);
	uint64_t *pd = (uint64_t *)(ram + CSC_PT_PD_GPA);
	uint64_t *pt = (uint64_t *)(ram + CSC_PT_LOW_GPA);
	/* User-accessible everywhere: drivers and applications run at ring 3
	 * (docs/platform-notes.md) and touch RAM and device registers directly. */
	const uint64_t flags = PTE_P | PTE_W | PTE_U;

	memset(pml4, 0, CSC_PAGE_SIZE);
	memset(pdpt, 0, CSC_PAGE_SIZE);
	pml4[0] = CSC_PT_PDPT_GPA | flags;
	for (unsigned g = 0; g < 4; g++) {
		pdpt[g] = (CSC_PT_PD_GPA + g * CSC_PAGE_SIZE) | flags;
		for (unsigned i = 0; i < 512; i++) {
			uint64_t addr = ((uint64_t)g << 30) | ((uint64_t)i << 21);
			uint64_t cache = addr >= CSC_MMIO_HOLE ? PTE_PCD | PTE_PWT : 0;
			pd[g * 512 + i] = addr | flags | PTE_PS | cache;
		}
	}
	/* First 2 MiB in 4 KiB pages so that page 0 can stay unmapped: a
	 * null-pointer access faults instead of reading the zero page. */
	pd[0] = CSC_PT_LOW_GPA | flags;
	pt[0] = 0;
	for (unsigned i = 1; i < 512; i++)
		pt[i] = ((uint64_t)i << 12) | flags;
}

int boot_fill_memory_map(struct csc_bootinfo *bi, uint64_t ram_size, const struct elf_image *img)
{
	uint64_t img_lo = img->lowest_gpa & ~(CSC_PAGE_SIZE - 1);
	uint64_t img_hi = (img->highest_gpa + CSC_PAGE_SIZE - 1) & ~(CSC_PAGE_SIZE - 1);
	int ret;

	ret = csc_bootinfo_add_mem(bi, 0, CSC_RESERVED_END, CSC_MEM_RESERVED);
	if (!ret && img_lo > CSC_RESERVED_END)
		ret = csc_bootinfo_add_mem(bi, CSC_RESERVED_END, img_lo - CSC_RESERVED_END, CSC_MEM_RAM);
	if (!ret)
		ret = csc_bootinfo_add_mem(bi, img_lo, img_hi - img_lo, CSC_MEM_IMAGE);
	if (!ret && ram_size > img_hi)
		ret = csc_bootinfo_add_mem(bi, img_hi, ram_size - img_hi, CSC_MEM_RAM);
	return ret;
}
