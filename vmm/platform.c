#include "platform.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/layout.h"
#include "../common/log.h"
#include "../common/platform_regs.h"
#include "../compsc/shared_area.h"
#include "device.h"
#include "hotplug.h"
#include "migration/stream.h"
#include "vm.h"

#define CONSOLE_LINE_MAX 1024
#define MARK_MAX 8

struct platform {
	struct vm *vm;
	struct platform_config cfg;
	uint64_t mmio_base;

	pthread_mutex_t console_lock;
	uint32_t console_tail;	/* our copy: never read back from the guest */
	char line[CONSOLE_LINE_MAX];
	size_t line_len;
	struct ratelimit console_log;

	uint32_t irq_vector;
	int irq_gsi;
	int irq_efd;
	int timer_fd;
	int wake_fd;		/* timerfd behind WAKE_US */

	struct hotplug *hotplug;	/* registers HOTPLUG_* */
	uint64_t mark_ns[MARK_MAX];
	_Atomic uint32_t migrated_gen;	/* CSC_PLAT_MIGRATED */
};

#define PLATFORM_STATE_VERSION 2	/* 1 was a memcpy of a host struct */
/* Migratable state, version 2, little-endian, field by field:
 *   +0  u32 console_tail   +4  u32 migrated_gen
 *   +8  u32 irq_vector (configuration: must match on the destination)
 *   +12 u32 line_len       +16 line[CONSOLE_LINE_MAX] (partial console line
 *                              not yet printed; bytes past line_len zero) */
#define PLATFORM_STATE_LEN (16 + CONSOLE_LINE_MAX)

static struct csc_console_ring *console_ring(struct platform *p)
{
	return vm_gpa_to_hva(p->vm, CSC_CONSOLE_RING_GPA, CSC_CONSOLE_RING_SIZE);
}

static void emit_line(struct platform *p)
{
	fprintf(p->cfg.console_out, "%s%.*s\n", p->cfg.console_prefix, (int)p->line_len, p->line);
	fflush(p->cfg.console_out);
	p->line_len = 0;
}

/* Caller holds console_lock. The guest owns head and may write anything
 * there: the VMM trusts only its own tail and the fixed ring size. */
static void console_drain(struct platform *p)
{
	struct csc_console_ring *ring = console_ring(p);
	uint32_t head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	uint32_t pending = head - p->console_tail;
	uint64_t suppressed;

	if (pending > CSC_CONSOLE_DATA_SIZE) {
		if (ratelimit_pass(&p->console_log, &suppressed))
			log_warn("console: guest head %u is %u bytes ahead of tail %u (ring holds %u); dropping",
				 head, pending, p->console_tail, CSC_CONSOLE_DATA_SIZE);
		p->console_tail = head;
		__atomic_store_n(&ring->tail, head, __ATOMIC_RELEASE);
		vm_mark_dirty(p->vm, CSC_CONSOLE_RING_GPA, 8);
		return;
	}
	while (p->console_tail != head) {
		unsigned char c = ring->data[p->console_tail & (CSC_CONSOLE_DATA_SIZE - 1)];
		p->console_tail++;
		if (c == '\n') {
			emit_line(p);
			continue;
		}
		/* Keep the host terminal safe from guest escape sequences. */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			c = '?';
		p->line[p->line_len++] = (char)c;
		if (p->line_len == CONSOLE_LINE_MAX)
			emit_line(p);
	}
	__atomic_store_n(&ring->tail, p->console_tail, __ATOMIC_RELEASE);
	vm_mark_dirty(p->vm, CSC_CONSOLE_RING_GPA, 8);
}

void platform_console_flush(struct platform *p)
{
	pthread_mutex_lock(&p->console_lock);
	console_drain(p);
	if (p->line_len)
		emit_line(p);
	pthread_mutex_unlock(&p->console_lock);
}

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available", "#DF double fault",
	"coprocessor overrun", "#TS invalid TSS", "#NP segment not present", "#SS stack fault",
	"#GP general protection", "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualisation", "#CP control protection",
};

void platform_report_fault(struct platform *p, const struct csc_fault_record *rec, const char *what)
{
	struct csc_fault_record f = *rec;
	const char *name = f.vector < 32 && exception_names[f.vector] ? exception_names[f.vector]
								       : "unknown vector";
	platform_console_flush(p);
	if (what)
		log_error("guest fault: %s", what);
	else
		log_error("guest fault: vector %" PRIu64 " (%s) at ring %" PRIu64 ", error code 0x%" PRIx64
			  ", rip 0x%" PRIx64,
			  f.vector, name, f.cs & 3, f.error_code, f.rip);
	fprintf(stderr,
		"  rip %016" PRIx64 "  cs %04" PRIx64 "  rflags %016" PRIx64 "  rsp %016" PRIx64 "  ss %04" PRIx64 "\n"
		"  rax %016" PRIx64 "  rbx %016" PRIx64 "  rcx %016" PRIx64 "  rdx %016" PRIx64 "\n"
		"  rsi %016" PRIx64 "  rdi %016" PRIx64 "  rbp %016" PRIx64 "  r8  %016" PRIx64 "\n"
		"  r9  %016" PRIx64 "  r10 %016" PRIx64 "  r11 %016" PRIx64 "  r12 %016" PRIx64 "\n"
		"  r13 %016" PRIx64 "  r14 %016" PRIx64 "  r15 %016" PRIx64 "  cr2 %016" PRIx64 "\n",
		f.rip, f.cs, f.rflags, f.rsp, f.ss, f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp,
		f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.cr2);
	vm_request_exit(p->vm, VMM_EXIT_FAULT);
}

static void report_fault(struct platform *p, uint64_t gpa)
{
	struct csc_fault_record f;
	const void *src = vm_gpa_to_hva(p->vm, gpa, sizeof(f));

	if (!src) {
		log_error("guest fault: the guest reported a fault record at 0x%" PRIx64
			  ", outside its memory", gpa);
		vm_request_exit(p->vm, VMM_EXIT_FAULT);
		return;
	}
	memcpy(&f, src, sizeof(f));	/* guest-writable: copy once, then read */
	platform_report_fault(p, &f, NULL);
}

static void arm_test_irq(struct platform *p, uint32_t delay_ms)
{
	if (delay_ms == 0) {
		irq_raise(p->irq_efd);
		return;
	}
	struct itimerspec its = {
		.it_value = { .tv_sec = delay_ms / 1000, .tv_nsec = (long)(delay_ms % 1000) * 1000000 },
	};
	if (timerfd_settime(p->timer_fd, 0, &its, NULL) < 0)
		log_warn("platform: cannot arm the test interrupt timer: %s", strerror(errno));
}

static void timer_fired(void *opaque, uint32_t events)
{
	struct platform *p = opaque;
	uint64_t expirations;

	(void)events;
	if (read(p->timer_fd, &expirations, sizeof(expirations)) == sizeof(expirations))
		irq_raise(p->irq_efd);
}

static void arm_wake(struct platform *p, uint32_t us)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 },
	};
	if (timerfd_settime(p->wake_fd, 0, &its, NULL) < 0)
		log_warn("platform: cannot arm the wake-up timer: %s", strerror(errno));
}

static void wake_fired(void *opaque, uint32_t events)
{
	struct platform *p = opaque;
	uint64_t expirations;

	(void)events;
	if (read(p->wake_fd, &expirations, sizeof(expirations)) == sizeof(expirations))
		irq_raise(p->irq_efd);
}

static void platform_mmio(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct platform *p = dev;
	uint32_t value = 0;

	if (len != 4 || (offset & 3)) {
		/* Only aligned 32-bit accesses are defined. */
		if (!is_write)
			memset(data, 0xff, len);
		log_debug("platform: ignored %u-byte access at +0x%" PRIx64, len, offset);
		return;
	}
	if (!is_write) {
		if (offset == CSC_PLAT_ID)
			value = CSC_PLATFORM_ID;
		else if (offset == CSC_PLAT_MIGRATED)
			value = atomic_load(&p->migrated_gen);
		else if (offset == CSC_PLAT_COMPSC_AREA)
			value = (uint32_t)atomic_load(&p->vm->compsc_area_gpa);
		else if (offset == CSC_PLAT_COMPSC_STATUS)
			value = (uint32_t)atomic_load(&p->vm->compsc_status);
		else if (offset == CSC_PLAT_HOTPLUG_REQ || offset == CSC_PLAT_HOTPLUG_PRESENT)
			value = hotplug_reg_read(p->hotplug, offset);
		memcpy(data, &value, 4);
		return;
	}
	memcpy(&value, data, 4);
	switch (offset) {
	case CSC_PLAT_CONSOLE:
		pthread_mutex_lock(&p->console_lock);
		console_drain(p);
		pthread_mutex_unlock(&p->console_lock);
		break;
	case CSC_PLAT_EXIT:
		platform_console_flush(p);
		vm_request_exit(p->vm, (int)(value & 0xff));
		break;
	case CSC_PLAT_FAULT:
		report_fault(p, value);
		break;
	case CSC_PLAT_MARK:
		if (value < MARK_MAX && !p->mark_ns[value])
			p->mark_ns[value] = now_ns();
		break;
	case CSC_PLAT_IRQ_TEST:
		arm_test_irq(p, value);
		break;
	case CSC_PLAT_WAKE_US:
		arm_wake(p, value);
		break;
	case CSC_PLAT_COMPSC_AREA: {
		/* Where the guest's VF driver keeps its CompSC shared area. Only
		 * the place is checked now; the contents are read (one copy,
		 * validated) at migration time. */
		char why[160];
		if (value == 0) {
			atomic_store(&p->vm->compsc_area_gpa, 0);
			atomic_store(&p->vm->compsc_status, 0);
		} else if (csc_area_locate(value, p->vm->ram_size, why, sizeof(why)) < 0) {
			atomic_store(&p->vm->compsc_area_gpa, 0);
			atomic_store(&p->vm->compsc_status, EINVAL);
			log_warn("platform: CompSC shared area refused: %s", why);
		} else {
			atomic_store(&p->vm->compsc_area_gpa, value);
			atomic_store(&p->vm->compsc_status, 0);
			log_info("platform: CompSC shared area at 0x%x", value);
		}
		break;
	}
	case CSC_PLAT_HOTPLUG_ACK:
		hotplug_reg_write(p->hotplug, offset, value);
		break;
	default:
		log_debug("platform: write 0x%x to unknown register +0x%" PRIx64, value, offset);
		break;
	}
}

/* Source, vCPUs paused. Draining first prints what the guest wrote up to
 * the pause here, and the tail goes in the state. */
static int platform_save(void *opaque, uint8_t *buf, size_t cap, size_t *len, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct platform *p = opaque;

	if (cap < PLATFORM_STATE_LEN)
		return -ENOSPC;
	memset(buf, 0, PLATFORM_STATE_LEN);
	pthread_mutex_lock(&p->console_lock);
	console_drain(p);
	mig_put32(buf, p->console_tail);
	mig_put32(buf + 12, (uint32_t)p->line_len);
	memcpy(buf + 16, p->line, p->line_len);
	pthread_mutex_unlock(&p->console_lock);
	fflush(p->cfg.console_out);
	mig_put32(buf + 4, atomic_load(&p->migrated_gen));
	mig_put32(buf + 8, p->irq_vector);
	*len = PLATFORM_STATE_LEN;
	return 0;
}

extern const struct device_ops platform_device_ops;

/* Untrusted bytes: every field is checked before anything changes. */
static int platform_load(void *opaque, uint32_t version, const uint8_t *buf, size_t len, char *err,
			 size_t errlen)
{
	struct platform *p = opaque;
	int ret = device_check_version(&platform_device_ops, version, len, PLATFORM_STATE_LEN, err, errlen);

	if (ret < 0)
		return ret;
	uint32_t tail = mig_get32(buf), gen = mig_get32(buf + 4), vector = mig_get32(buf + 8),
		 line_len = mig_get32(buf + 12);
	if (line_len >= CONSOLE_LINE_MAX) {
		snprintf(err, errlen, "console line length %u out of range", line_len);
		return -EINVAL;
	}
	if (vector != p->irq_vector) {
		snprintf(err, errlen, "interrupt vector 0x%x, this VM's platform uses 0x%x", vector, p->irq_vector);
		return -EINVAL;
	}
	pthread_mutex_lock(&p->console_lock);
	p->console_tail = tail;
	p->line_len = line_len;
	memcpy(p->line, buf + 16, line_len);
	pthread_mutex_unlock(&p->console_lock);
	atomic_store(&p->migrated_gen, gen);
	return 0;
}

/* Destination, before the vCPUs run: the guest learns it moved. */
static void platform_activate(void *opaque)
{
	struct platform *p = opaque;

	atomic_fetch_add(&p->migrated_gen, 1);
	irq_raise(p->irq_efd);
}

static struct platform *platform_new(struct vm *vm, const struct platform_config *cfg)
{
	struct platform *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return NULL;
	p->vm = vm;
	p->cfg = *cfg;
	p->mmio_base = vm_alloc_mmio_window(vm);
	p->irq_efd = p->timer_fd = p->wake_fd = -1;
	p->console_log = (struct ratelimit)RATELIMIT_INIT(2);
	pthread_mutex_init(&p->console_lock, NULL);

	struct csc_console_ring *ring = console_ring(p);
	ring->head = ring->tail = 0;
	ring->size = CSC_CONSOLE_DATA_SIZE;

	p->irq_vector = irq_alloc_vectors(&vm->irq, 1);
	if (!p->irq_vector) {
		log_error("platform: no interrupt vector left");
		goto fail;
	}
	p->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	p->wake_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (p->irq_efd < 0 || p->timer_fd < 0 || p->wake_fd < 0) {
		log_error("platform: eventfd/timerfd: %s", strerror(errno));
		goto fail;
	}
	p->irq_gsi = irq_add_msi_route(&vm->irq, p->irq_vector, 0);
	if (p->irq_gsi < 0 || (ret = irq_attach_eventfd(&vm->irq, p->irq_gsi, p->irq_efd)) < 0) {
		log_error("platform: cannot route interrupt vector %u: %s", p->irq_vector,
			  strerror(p->irq_gsi < 0 ? -p->irq_gsi : -ret));
		goto fail;
	}
	ret = evloop_add(&vm->loop, p->timer_fd, EPOLLIN, timer_fired, p);
	if (ret < 0) {
		log_error("platform: event loop: %s", strerror(-ret));
		goto fail;
	}
	ret = evloop_add(&vm->loop, p->wake_fd, EPOLLIN, wake_fired, p);
	if (ret < 0) {
		log_error("platform: event loop: %s", strerror(-ret));
		evloop_remove(&vm->loop, p->timer_fd);
		goto fail;
	}
	char why[200];
	p->hotplug = hotplug_create(vm, p->irq_efd, why, sizeof(why));
	if (!p->hotplug) {
		log_error("platform: %s", why);
		evloop_remove(&vm->loop, p->timer_fd);
		evloop_remove(&vm->loop, p->wake_fd);
		goto fail;
	}
	ret = bus_register(&vm->bus, p->mmio_base, CSC_PLAT_SIZE, "platform", p, platform_mmio);
	if (ret < 0) {
		log_error("platform: cannot claim MMIO window: %s", strerror(-ret));
		evloop_remove(&vm->loop, p->timer_fd);
		evloop_remove(&vm->loop, p->wake_fd);
		hotplug_destroy(p->hotplug);
		goto fail;
	}
	return p;
fail:
	if (p->irq_efd >= 0)
		close(p->irq_efd);
	if (p->timer_fd >= 0)
		close(p->timer_fd);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	free(p);
	return NULL;
}

static void platform_destroy(void *opaque)
{
	struct platform *p = opaque;

	if (!p)
		return;
	if (p->vm->platform == p)
		p->vm->platform = NULL;
	if (p->vm->hotplug == p->hotplug)
		p->vm->hotplug = NULL;
	bus_unregister(&p->vm->bus, p->mmio_base);
	hotplug_destroy(p->hotplug);
	evloop_remove(&p->vm->loop, p->timer_fd);
	close(p->timer_fd);
	evloop_remove(&p->vm->loop, p->wake_fd);
	close(p->wake_fd);
	close(p->irq_efd);
	free(p);
}

static void *platform_create(struct vm *vm, const void *config, unsigned instance, struct csc_boot_dev *boot,
			     char *err, size_t errlen)
{
	struct platform *p = platform_new(vm, config);

	if (!p) {
		snprintf(err, errlen, "platform: cannot create the device (see above)");
		return NULL;
	}
	vm->platform = p;
	vm->hotplug = p->hotplug;
	*boot = (struct csc_boot_dev){
		.type = CSC_DEV_PLATFORM, .instance = instance, .mmio_base = p->mmio_base, .mmio_len = CSC_PLAT_SIZE,
		.irq_vector = p->irq_vector, .irq_count = 1,
	};
	return p;
}

const struct device_ops platform_device_ops = {
	.name = "platform",
	.version = PLATFORM_STATE_VERSION,
	.min_load_version = PLATFORM_STATE_VERSION,
	.create = platform_create,
	.destroy = platform_destroy,
	.save = platform_save,
	.load = platform_load,
	.activate = platform_activate,
};

uint64_t platform_mark_time(const struct platform *p, unsigned mark)
{
	return mark < MARK_MAX ? p->mark_ns[mark] : 0;
}

uint64_t platform_mmio_base(const struct platform *p)
{
	return p->mmio_base;
}

uint32_t platform_irq_vector(const struct platform *p)
{
	return p->irq_vector;
}
