/* The dirty log, under the accelerator named by $COMPSC_ACCEL (kvm, proc or
 * auto): a real guest (app=dirty) writes pages; the VMM writes others
 * through its own mapping; a second process writes others through its own
 * mapping of the guest-RAM memfd, as the NIC's DMA does. Only the guest's
 * writes may appear in the accelerator's log: that blindness to DMA is the
 * problem CompSC solves, and both accelerators must reproduce it.
 *
 *   dirtylog GUEST.elf      prints TAP */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/bootinfo.h"
#include "../../common/layout.h"
#include "../../common/log.h"
#include "../../common/platform_regs.h"
#include "../../vmm/accel/accel.h"
#include "../../vmm/boot.h"
#include "../../vmm/elf_loader.h"
#include "../../vmm/device.h"
#include "../../vmm/platform.h"
#include "../../vmm/vm.h"

#define RAM (64ull << 20)
#define VMM_AREA (RAM - (2ull << 20))	/* last 2 MiB: written by the VMM */
#define DMA_AREA (RAM - (4ull << 20))	/* the 2 MiB below: by another process */
#define AREA_LEN (2ull << 20)

static int n_test;
static int failures;

static void ok(int cond, const char *name, const char *diag)
{
	n_test++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n_test, name);
	if (!cond) {
		failures++;
		if (diag && *diag)
			printf("# %s\n", diag);
	}
	fflush(stdout);
}

static uint64_t count_in(const uint64_t *bm, uint64_t lo, uint64_t hi)
{
	uint64_t n = 0;

	for (uint64_t pfn = lo / CSC_PAGE_SIZE; pfn < hi / CSC_PAGE_SIZE; pfn++)
		n += (bm[pfn / 64] >> (pfn % 64)) & 1;
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* "DMA": a child process maps the memfd and writes, as compsc-nic does. */
static int write_from_other_process(int ram_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		uint8_t *m = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
		if (m == MAP_FAILED)
			_exit(1);
		for (uint64_t off = 0; off < AREA_LEN; off += CSC_PAGE_SIZE)
			m[DMA_AREA + off] = (uint8_t)(off >> 12) | 1;
		_exit(0);
	}
	int st = 0;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void *checker(void *arg)
{
	struct vm *vm = arg;
	uint64_t words = (vm->n_pages + 63) / 64;
	uint64_t *bm = calloc(words, 8);
	char err[300] = "", diag[400];
	int ret;

	sleep_ms(500);	/* boot, fill the buffer, start rewriting */
	ret = vm_mem_dirty_log_start(vm, err, sizeof(err));
	ok(ret == 0, "dirty logging starts", err);
	if (ret < 0)
		goto out;
	sleep_ms(50);
	vm->accel->dirty_log_collect(vm, bm, err, sizeof(err));	/* settle */
	memset(bm, 0, words * 8);
	memset(vm->ram + VMM_AREA, 0x5a, AREA_LEN);
	int dma = write_from_other_process(vm->ram_fd);
	sleep_ms(300);
	ret = vm->accel->dirty_log_collect(vm, bm, err, sizeof(err));
	uint64_t guest = count_in(bm, CSC_RESERVED_END, DMA_AREA), in_vmm = count_in(bm, VMM_AREA, RAM),
		 in_dma = count_in(bm, DMA_AREA, VMM_AREA);
	snprintf(diag, sizeof(diag), "%s: collect %d (%s): guest %llu, vmm %llu, dma %llu", vm->accel->name, ret, err,
		 (unsigned long long)guest, (unsigned long long)in_vmm, (unsigned long long)in_dma);
	printf("# %s\n", diag);
	ok(ret == 0 && guest > 50, "pages the guest writes are logged", diag);
	ok(ret == 0 && in_vmm == 0, "pages the VMM writes through its own mapping are not logged", diag);
	ok(ret == 0 && dma == 0 && in_dma == 0, "pages another process writes (DMA) are not logged", diag);

	/* Collecting re-arms: what the guest did not touch since is clean. */
	memset(bm, 0, words * 8);
	ret = vm->accel->dirty_log_collect(vm, bm, err, sizeof(err));
	uint64_t again = count_in(bm, CSC_RESERVED_END, RAM);
	snprintf(diag, sizeof(diag), "second collect right away: %llu pages", (unsigned long long)again);
	ok(ret == 0 && again < guest, "a collect clears and re-arms the log", diag);

	/* The VMM's own writes reach migration through vm_mark_dirty. */
	memset(bm, 0, words * 8);
	vm_mark_dirty(vm, VMM_AREA, AREA_LEN);
	int64_t total = vm_mem_dirty_log_collect(vm, bm, err, sizeof(err));
	ok(total > 0 && count_in(bm, VMM_AREA, RAM) == AREA_LEN / CSC_PAGE_SIZE,
	   "vm_mark_dirty pages are in the combined dirty set", err);
	vm_mem_dirty_log_stop(vm);
out:
	free(bm);
	vm_request_exit(vm, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *wanted = getenv("COMPSC_ACCEL");
	char err[512];
	uint8_t *file;
	size_t size;
	struct elf_image img;
	pthread_t th;

	log_init("dirtylog", LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (argc != 2 || elf_read_file(argv[1], &file, &size, err, sizeof(err)) < 0 ||
	    elf_parse(file, size, RAM, &img, err, sizeof(err)) < 0) {
		printf("1..0 # SKIP usage: dirtylog GUEST.elf\n");
		return 1;
	}
	const struct accel_ops *accel = accel_select(wanted && *wanted ? wanted : "auto", err, sizeof(err));
	if (!accel) {
		printf("not ok 1 - accelerator: %s\n1..1\n", err);
		return 1;
	}
	printf("# accelerator %s: %s\n", accel->name, err);
	struct vm *vm = calloc(1, sizeof(*vm));
	if (vm_create(vm, accel, RAM, 1, err, sizeof(err)) < 0) {
		printf("not ok 1 - VM: %s\n1..1\n", err);
		return 1;
	}
	struct platform_config pcfg = { .console_out = stdout, .console_prefix = "# guest: " };
	vm_device_create(vm, &platform_device_ops, &pcfg, 0, err, sizeof(err));
	boot_build_page_tables(vm->ram);
	elf_copy(&img, file, vm->ram);
	struct csc_bootinfo *bi = vm_gpa_to_hva(vm, CSC_BOOTINFO_GPA, CSC_BOOTINFO_SIZE);
	csc_bootinfo_init(bi, RAM, vm->tsc_khz);
	bi->accel = accel->boot_accel;
	if (!vm->platform || boot_fill_memory_map(bi, RAM, &img) < 0 ||
	    csc_bootinfo_set_cmdline(bi, "app=dirty rate=5000 size=4 report-ms=10000") < 0 ||
	    csc_bootinfo_add_dev(bi, &vm->boot_devs[0]) < 0 || vcpu_set_boot_state(&vm->vcpus[0], img.entry, CSC_BOOTINFO_GPA) < 0) {
		printf("not ok 1 - boot set-up\n1..1\n");
		return 1;
	}
	pthread_create(&th, NULL, checker, vm);
	int status = vm_run(vm);
	pthread_join(th, NULL);
	ok(status == 0, "the VM ends cleanly", "");
	vm_destroy(vm);
	free(vm);
	free(file);
	printf("1..%d\n", n_test);
	return failures ? 1 : 0;
}
