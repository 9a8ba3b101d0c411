/* The guest runtime at ring 3: console, clock, exit/panic, command line,
 * memory, interrupts. Everything an application needs from "the OS". */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/bootinfo.h"

/* Boot information, validated once at start (rt_start). */
extern const struct csc_bootinfo *rt_bootinfo;

/* Console: printf goes to the VMM through the console ring. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *s, size_t n);
void console_flush(void);

/* Monotonic milliseconds / microseconds since boot, from the TSC. */
uint64_t clock_ms(void);
uint64_t clock_us(void);
void clock_init(uint64_t tsc_khz);
void delay_ms(uint64_t ms);

/* Ends the VM with this status (VMM exits with it). */
void exit(int status) __attribute__((noreturn));
/* Prints "panic: ..." and exits with status 100. */
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define PANIC_EXIT_STATUS 100
#define assert(cond) ((cond) ? (void)0 : panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__))

/* Platform device access. */
void platform_mark(uint32_t mark);
void platform_arm_test_irq(uint32_t delay_ms);
/* Raise the platform interrupt at clock_us() == deadline_us (or soon
 * after), so that irq_wait() returns by then; cheap to call repeatedly. */
void platform_wake_at_us(uint64_t deadline_us);
/* 0 after boot, +1 each time the VM was live-migrated to a new host. */
uint32_t platform_migration_generation(void);
/* The hot-plug controller (common/platform_regs.h): the pending request
 * (0 none), its acknowledgement, and the bitmask of VF slots with a
 * device attached. */
uint32_t platform_hotplug_request(void);
void platform_hotplug_ack(uint32_t req);
uint32_t platform_hotplug_present(void);

/* Command line: "key=value key2 ..." tokens. cmdline_get copies the value
 * of key into buf (NUL-terminated) and returns true if the key is present
 * (a bare key has the value ""). */
bool cmdline_get(const char *key, char *buf, size_t size);
uint64_t cmdline_get_u64(const char *key, uint64_t fallback);

/* Memory: a bump allocator over the largest RAM region; never freed. */
void *rt_alloc(size_t size, size_t align);
uint64_t rt_heap_free(void);

/* Interrupts: counters kept by the ring-0 stubs (arch.h) and a sleep that
 * returns once any interrupt has arrived since `snapshot` was taken. */
uint32_t irq_snapshot(void);
void irq_wait(uint32_t snapshot);

/* main() of the application, called at ring 3 with everything set up. */
int main(void);

#endif
