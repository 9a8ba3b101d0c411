/* Guest applications, chosen with app=NAME on the command line. */
#ifndef GUEST_APPS_H
#define GUEST_APPS_H

struct guest_app {
	const char *name;
	const char *help;
	int (*run)(void);
};

int app_hello(void);
int app_irqtest(void);
int app_fault(void);
int app_spin(void);
int app_unclaimed(void);
int app_consoletest(void);
int app_vfraw(void);
int app_regbench(void);
int app_memcheck(void);
int app_dirty(void);
int app_compute(void);
int app_hostile(void);
int app_sleep(void);

#endif
