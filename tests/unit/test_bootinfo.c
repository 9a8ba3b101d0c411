/* Boot information: encoding, limits, and validation of hostile copies;
 * plus the page tables and memory map the VMM builds around it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/bootinfo.h"
#include "../../common/layout.h"
#include "../../vmm/boot.h"
#include "../../vmm/options.h"

static struct csc_bootinfo bi;

static void build_valid(void)
{
	struct csc_boot_dev dev = { .type = CSC_DEV_PLATFORM, .mmio_base = CSC_MMIO_BASE,
				    .mmio_len = 0x1000, .irq_vector = 0x40, .irq_count = 1 };

	csc_bootinfo_init(&bi, 256ull << 20, 2100000);
	assert_int_equal(csc_bootinfo_add_mem(&bi, 0, CSC_RESERVED_END, CSC_MEM_RESERVED), 0);
	assert_int_equal(csc_bootinfo_add_mem(&bi, CSC_RESERVED_END, (255ull << 20), CSC_MEM_RAM), 0);
	assert_int_equal(csc_bootinfo_add_dev(&bi, &dev), 0);
	assert_int_equal(csc_bootinfo_set_cmdline(&bi, "app=hello ip=10.0.0.10/24"), 0);
}

static void test_encode_roundtrip(void **state)
{
	(void)state;
	build_valid();
	assert_int_equal(bi.magic, CSC_BOOT_MAGIC);
	assert_int_equal(bi.version, CSC_BOOT_VERSION);
	assert_int_equal(bi.size, sizeof(bi));
	assert_int_equal(bi.n_mem, 2);
	assert_int_equal(bi.n_dev, 1);
	assert_string_equal(bi.cmdline, "app=hello ip=10.0.0.10/24");
	assert_int_equal(bi.cmdline_len, strlen("app=hello ip=10.0.0.10/24"));
	assert_int_equal(csc_bootinfo_validate(&bi), 0);
	const struct csc_boot_dev *d = csc_bootinfo_find_dev(&bi, CSC_DEV_PLATFORM, 0);
	assert_non_null(d);
	assert_int_equal(d->irq_vector, 0x40);
	assert_null(csc_bootinfo_find_dev(&bi, CSC_DEV_PLATFORM, 1));
	assert_null(csc_bootinfo_find_dev(&bi, CSC_DEV_VF_82576, 0));
	/* The structure is part of the guest ABI: it must fit its page. */
	assert_true(sizeof(bi) <= CSC_BOOTINFO_SIZE);
}

static void test_builder_limits(void **state)
{
	char longline[CSC_BOOT_CMDLINE_MAX + 10];
	struct csc_boot_dev dev = { .type = CSC_DEV_VIRTIO_NET, .mmio_base = 0xd0010000, .mmio_len = 0x1000 };
	(void)state;

	csc_bootinfo_init(&bi, 64ull << 20, 1000);
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(csc_bootinfo_set_cmdline(&bi, longline), -E2BIG);
	longline[CSC_BOOT_CMDLINE_MAX - 1] = '\0';	/* exactly the maximum */
	assert_int_equal(csc_bootinfo_set_cmdline(&bi, longline), 0);
	assert_int_equal(bi.cmdline_len, CSC_BOOT_CMDLINE_MAX - 1);

	for (int i = 0; i < CSC_BOOT_MAX_MEM; i++)
		assert_int_equal(csc_bootinfo_add_mem(&bi, i * 0x1000ull, 0x1000, CSC_MEM_RAM), 0);
	assert_int_equal(csc_bootinfo_add_mem(&bi, 0x100000, 0x1000, CSC_MEM_RAM), -E2BIG);
	for (int i = 0; i < CSC_BOOT_MAX_DEV; i++)
		assert_int_equal(csc_bootinfo_add_dev(&bi, &dev), 0);
	assert_int_equal(csc_bootinfo_add_dev(&bi, &dev), -E2BIG);

	csc_bootinfo_init(&bi, 64ull << 20, 1000);
	assert_int_equal(csc_bootinfo_add_mem(&bi, 0, 0, CSC_MEM_RAM), -EINVAL);
	assert_int_equal(csc_bootinfo_add_mem(&bi, UINT64_MAX, 2, CSC_MEM_RAM), -EINVAL);
	assert_int_equal(csc_bootinfo_add_mem(&bi, 0, 1, 99), -EINVAL);
	dev.type = 77;
	assert_int_equal(csc_bootinfo_add_dev(&bi, &dev), -EINVAL);
	dev.type = CSC_DEV_VIRTIO_NET;
	dev.irq_vector = 3;	/* an exception vector */
	dev.irq_count = 1;
	assert_int_equal(csc_bootinfo_add_dev(&bi, &dev), -EINVAL);
}

static void test_validate_rejects_corruption(void **state)
{
	(void)state;
	build_valid();
	bi.magic ^= 1;
	assert_int_equal(csc_bootinfo_validate(&bi), -EINVAL);
	build_valid();
	bi.version = 99;
	assert_int_equal(csc_bootinfo_validate(&bi), -EPROTO);
	build_valid();
	bi.n_dev = CSC_BOOT_MAX_DEV + 1;
	assert_int_equal(csc_bootinfo_validate(&bi), -E2BIG);
	build_valid();
	bi.cmdline_len = CSC_BOOT_CMDLINE_MAX;
	assert_int_equal(csc_bootinfo_validate(&bi), -EINVAL);
	build_valid();
	bi.cmdline[bi.cmdline_len] = 'x';	/* not terminated where it says */
	assert_int_equal(csc_bootinfo_validate(&bi), -EINVAL);
	build_valid();
	bi.mem[1].len = 1ull << 40;	/* beyond RAM */
	assert_int_equal(csc_bootinfo_validate(&bi), -ERANGE);
	build_valid();
	bi.dev[0].irq_vector = 250;
	bi.dev[0].irq_count = 10;	/* runs past vector 255 */
	assert_int_equal(csc_bootinfo_validate(&bi), -ERANGE);
}

static void test_page_tables_and_memory_map(void **state)
{
	uint64_t ram_size = 64ull << 20;
	uint8_t *ram = calloc(1, ram_size);
	struct elf_image img = { .entry = 0x100000, .lowest_gpa = 0x100000, .highest_gpa = 0x123456 };
	(void)state;

	boot_build_page_tables(ram);
	uint64_t *pml4 = (uint64_t *)(ram + CSC_PT_PML4_GPA);
	uint64_t *pd = (uint64_t *)(ram + CSC_PT_PD_GPA);
	uint64_t *pt = (uint64_t *)(ram + CSC_PT_LOW_GPA);
	assert_int_equal(pml4[0] & ~0xfffull, CSC_PT_PDPT_GPA);
	assert_int_equal(pml4[0] & 0x7, 0x7);	/* present, writable, user */
	assert_int_equal(pt[0], 0);		/* null page absent */
	assert_int_equal(pt[1] & ~0xfffull, 0x1000);
	assert_int_equal(pd[1] & ~0xfffull, 0x200000);
	assert_true(pd[1] & 0x80);		/* 2 MiB page */
	/* The LAPIC page is reachable and uncached. */
	uint64_t lapic_pde = pd[CSC_LAPIC_GPA >> 21];
	assert_int_equal(lapic_pde & ~0x1fffffull, CSC_LAPIC_GPA & ~0x1fffffull);
	assert_true(lapic_pde & 0x10);

	csc_bootinfo_init(&bi, ram_size, 1000);
	assert_int_equal(boot_fill_memory_map(&bi, ram_size, &img), 0);
	assert_int_equal(bi.n_mem, 3);
	assert_int_equal(bi.mem[0].type, CSC_MEM_RESERVED);
	assert_int_equal(bi.mem[1].type, CSC_MEM_IMAGE);
	assert_int_equal(bi.mem[1].base + bi.mem[1].len, 0x124000);
	assert_int_equal(bi.mem[2].type, CSC_MEM_RAM);
	assert_int_equal(bi.mem[2].base + bi.mem[2].len, ram_size);
	assert_int_equal(csc_bootinfo_validate(&bi), 0);
	free(ram);
}

static void test_parse_size(void **state)
{
	uint64_t v;
	(void)state;

	assert_int_equal(parse_size("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(parse_size("1G", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(parse_size("64k", &v), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(parse_size("512MiB", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("", &v), -EINVAL);
	assert_int_equal(parse_size("-1M", &v), -EINVAL);
	assert_int_equal(parse_size("12X", &v), -EINVAL);
	assert_int_equal(parse_size("1Mfoo", &v), -EINVAL);
	assert_int_equal(parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(parse_size("99999999999999G", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_builder_limits),
		cmocka_unit_test(test_validate_rejects_corruption),
		cmocka_unit_test(test_page_tables_and_memory_map),
		cmocka_unit_test(test_parse_size),
	};
	return cmocka_run_group_tests_name("bootinfo", tests, NULL, NULL);
}
