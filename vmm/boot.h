/* Boot-time guest memory set-up: identity page tables and boot information
 * (the layout is in common/layout.h, the format in common/bootinfo.h). */
#ifndef CSC_VMM_BOOT_H
#define CSC_VMM_BOOT_H

#include <stdint.h>

#include "../common/bootinfo.h"
#include "elf_loader.h"

/* Writes PML4/PDPT/PDs/low PT into ram: 4 GiB identity map, user-accessible,
 * page 0 absent, MMIO hole uncached. */
void boot_build_page_tables(uint8_t *ram);

/* Fills the memory map of bi from the RAM size and the loaded image. */
int boot_fill_memory_map(struct csc_bootinfo *bi, uint64_t ram_size, const struct elf_image *img);

#endif
