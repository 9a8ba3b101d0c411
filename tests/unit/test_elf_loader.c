/* ELF loader: a good image loads; each kind of bad file is rejected with a
 * message that says why. Images are built in memory. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/layout.h"
#include "../../vmm/elf_loader.h"

#define RAM (64ull << 20)

struct image {
	uint8_t bytes[8192];
	size_t size;
};

/* A valid image: one R+X segment of 0x100 file bytes (+0x100 bss) at 1 MiB,
 * entry at its start, code at file offset 0x1000. */
static void make_image(struct image *im)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im->bytes;
	Elf64_Phdr *ph = (Elf64_Phdr *)(im->bytes + sizeof(*eh));

	memset(im, 0, sizeof(*im));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = CSC_IMAGE_MIN_GPA;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_offset = 0x1000;
	ph->p_vaddr = ph->p_paddr = CSC_IMAGE_MIN_GPA;
	ph->p_filesz = 0x100;
	ph->p_memsz = 0x200;
	memset(im->bytes + 0x1000, 0xcc, 0x100);
	im->size = 0x1100;
}

static Elf64_Ehdr *ehdr(struct image *im) { return (Elf64_Ehdr *)im->bytes; }
static Elf64_Phdr *phdr(struct image *im, int i)
{
	return (Elf64_Phdr *)(im->bytes + sizeof(Elf64_Ehdr)) + i;
}

/* Parses and expects rejection with a message containing `needle`. */
static void expect_reject(struct image *im, const char *needle)
{
	struct elf_image img;
	char err[256] = "";

	assert_int_equal(elf_parse(im->bytes, im->size, RAM, &img, err, sizeof(err)), -ENOEXEC);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
}

static void test_valid_image_loads(void **state)
{
	struct image im;
	struct elf_image img;
	char err[256];
	(void)state;

	make_image(&im);
	assert_int_equal(elf_parse(im.bytes, im.size, RAM, &img, err, sizeof(err)), 0);
	assert_int_equal(img.entry, CSC_IMAGE_MIN_GPA);
	assert_int_equal(img.n_segments, 1);
	assert_int_equal(img.lowest_gpa, CSC_IMAGE_MIN_GPA);
	assert_int_equal(img.highest_gpa, CSC_IMAGE_MIN_GPA + 0x200);

	uint8_t *ram = calloc(1, RAM);
	memset(ram + CSC_IMAGE_MIN_GPA + 0x100, 0x55, 0x100);	/* bss must be zeroed */
	elf_copy(&img, im.bytes, ram);
	assert_int_equal(ram[CSC_IMAGE_MIN_GPA], 0xcc);
	assert_int_equal(ram[CSC_IMAGE_MIN_GPA + 0xff], 0xcc);
	assert_int_equal(ram[CSC_IMAGE_MIN_GPA + 0x100], 0);
	assert_int_equal(ram[CSC_IMAGE_MIN_GPA + 0x1ff], 0);
	free(ram);
}

static void test_rejects_not_elf(void **state)
{
	struct image im;
	(void)state;

	make_image(&im);
	memcpy(im.bytes, "root:x:0:0:root:/root:/bin/bash\n", 32);
	expect_reject(&im, "not an ELF file");
	im.size = 2;	/* shorter than the magic */
	expect_reject(&im, "not an ELF file");
}

static void test_rejects_wrong_class_and_machine(void **state)
{
	struct image im;
	(void)state;

	make_image(&im);
	im.bytes[EI_CLASS] = ELFCLASS32;
	expect_reject(&im, "not a 64-bit");
	make_image(&im);
	ehdr(&im)->e_machine = EM_AARCH64;
	expect_reject(&im, "not an x86-64");
	make_image(&im);
	im.bytes[EI_DATA] = ELFDATA2MSB;
	expect_reject(&im, "little-endian");
	make_image(&im);
	ehdr(&im)->e_type = ET_DYN;
	expect_reject(&im, "not an executable");
}

static void test_rejects_truncated(void **state)
{
	struct image im;
	(void)state;

	make_image(&im);
	im.size = 40;	/* inside the ELF header */
	expect_reject(&im, "truncated");
	make_image(&im);
	im.size = sizeof(Elf64_Ehdr) + 10;	/* inside the program headers */
	expect_reject(&im, "truncated");
	make_image(&im);
	im.size = 0x1080;	/* inside the segment's file bytes */
	expect_reject(&im, "truncated");
	make_image(&im);
	phdr(&im, 0)->p_offset = UINT64_MAX - 0x10;	/* offset + size overflows */
	expect_reject(&im, "truncated");
	make_image(&im);
	ehdr(&im)->e_phoff = UINT64_MAX - 8;
	expect_reject(&im, "truncated");
}

static void test_rejects_segment_outside_memory(void **state)
{
	struct image im;
	(void)state;

	make_image(&im);
	phdr(&im, 0)->p_paddr = phdr(&im, 0)->p_vaddr = RAM - 0x100;	/* runs past the end */
	ehdr(&im)->e_entry = RAM - 0x100;
	expect_reject(&im, "outside guest memory");
	make_image(&im);
	phdr(&im, 0)->p_paddr = UINT64_MAX - 0x100;	/* wraps around */
	expect_reject(&im, "outside guest memory");
	make_image(&im);
	phdr(&im, 0)->p_memsz = RAM;	/* too large */
	expect_reject(&im, "outside guest memory");
}

static void test_rejects_boot_area_overlap(void **state)
{
	struct image im;
	(void)state;

	make_image(&im);
	phdr(&im, 0)->p_paddr = phdr(&im, 0)->p_vaddr = 0x8000;	/* the boot information page */
	ehdr(&im)->e_entry = 0x8000;
	expect_reject(&im, "boot-information area");
}

static void test_rejects_bad_segments_and_entry(void **state)
{
	struct image im;
	(void)state;

	make_image(&im);
	phdr(&im, 0)->p_filesz = 0x300;	/* more file bytes than memory */
	expect_reject(&im, "exceeds memory size");
	make_image(&im);
	phdr(&im, 0)->p_type = PT_NOTE;
	expect_reject(&im, "no loadable segments");
	make_image(&im);
	ehdr(&im)->e_entry = 0x5000000;	/* not in the segment */
	expect_reject(&im, "entry point");
	make_image(&im);
	phdr(&im, 0)->p_flags = PF_R | PF_W;	/* entry in a non-executable segment */
	expect_reject(&im, "entry point");
	make_image(&im);	/* two overlapping segments */
	ehdr(&im)->e_phnum = 2;
	*phdr(&im, 1) = *phdr(&im, 0);
	phdr(&im, 1)->p_paddr += 0x100;
	expect_reject(&im, "overlaps another segment");
}

static void test_reads_files(void **state)
{
	uint8_t *data;
	size_t size;
	char err[256];
	(void)state;

	assert_int_equal(elf_read_file("/nonexistent/guest.elf", &data, &size, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_true(elf_read_file("/", &data, &size, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_image_loads),
		cmocka_unit_test(test_rejects_not_elf),
		cmocka_unit_test(test_rejects_wrong_class_and_machine),
		cmocka_unit_test(test_rejects_truncated),
		cmocka_unit_test(test_rejects_segment_outside_memory),
		cmocka_unit_test(test_rejects_boot_area_overlap),
		cmocka_unit_test(test_rejects_bad_segments_and_entry),
		cmocka_unit_test(test_reads_files),
	};
	return cmocka_run_group_tests_name("elf_loader", tests, NULL, NULL);
}
