/* The guest's main(): runs the application named by app= (default hello). */
#include "apps/apps.h"
#include "guest/rt.h"
#include "guest/string.h"

static const struct guest_app apps[] = {
	{ "hello", "print what the guest learned at boot", app_hello },
	{ "irqtest", "check interrupt delivery at ring 3", app_irqtest },
	{ "fault", "fault on purpose (kind=pf|ud|gp|de|ring0|triple)", app_fault },
	{ "unclaimed", "access an MMIO address no device claims", app_unclaimed },
	{ "consoletest", "stress the console ring", app_consoletest },
	{ "spin", "run forever (report-ms=N prints a heartbeat)", app_spin },
	{ "memcheck", "fill memory, verify it after each migration (size=MiB)", app_memcheck },
	{ "dirty", "dirty memory at rate=PAGES_PER_SEC, verify after migration", app_dirty },
};

int main(void)
{
	char name[32] = "hello";

	cmdline_get("app", name, sizeof(name));
	for (unsigned i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		if (strcmp(apps[i].name, name) == 0)
			return apps[i].run();
	printf("unknown app '%s'; known apps:\n", name);
	for (unsigned i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
		printf("  %-10s %s\n", apps[i].name, apps[i].help);
	return 2;
}
