/* app=spin [report-ms=N]: runs until the VMM is told to stop, printing a
 * heartbeat every N ms if asked: for tests of VMM-side control (signals,
 * pause, the control socket). */
#include "apps.h"
#include "guest/arch.h"
#include "guest/rt.h"

int app_spin(void)
{
	/* Runs until the VMM is told to stop: for tests of VMM-side control. */
	uint64_t report = cmdline_get_u64("report-ms", 0), next = report;

	for (;;) {
		if (report && clock_ms() >= next) {
			printf("spin: %llu ms\n", (unsigned long long)clock_ms());
			next += report;
		}
		arch_pause();
	}
}
