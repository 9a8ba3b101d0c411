/* ELF64 x86-64 guest loader.
 *
 * Split in two so that a bad file is rejected before any KVM resource
 * exists: elf_parse() checks everything against the planned RAM size and
 * fills a plan; elf_copy() then copies the segments into guest RAM. The file
 * is untrusted input: every offset and size is checked for overflow. */
#ifndef CSC_VMM_ELF_LOADER_H
#define CSC_VMM_ELF_LOADER_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16

struct elf_segment {
	uint64_t gpa;		/* where it goes in guest memory */
	uint64_t file_offset;
	uint64_t file_size;
	uint64_t mem_size;	/* >= file_size; the rest is zeroed */
	uint32_t flags;		/* PF_R / PF_W / PF_X */
};

struct elf_image {
	uint64_t entry;
	uint64_t lowest_gpa, highest_gpa;	/* [lowest, highest) covered by segments */
	unsigned n_segments;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	/* CSC_BINDING_* from the image's CompSC note (common/guest_abi.h);
	 * CSC_BINDING_KVM for an image without one. */
	uint32_t bindings;
};

/* Returns 0, or -ENOEXEC with a one-line reason in err. */
int elf_parse(const uint8_t *file, size_t size, uint64_t ram_size, struct elf_image *img,
	      char *err, size_t err_len);

/* Copies the segments of a parsed image into ram (ram_size bytes). */
void elf_copy(const struct elf_image *img, const uint8_t *file, uint8_t *ram);

/* Reads a whole file into a malloc'd buffer; returns 0 or -errno with err set. */
int elf_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t err_len);

#endif
