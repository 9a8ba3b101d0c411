/* Guest networking: lwIP (NO_SYS) over the guest's NICs, one main loop.
 *
 * The main loop owns lwIP: it polls every interface (received frames go to
 * netif->input from here only, never from an interrupt), runs lwIP's timers,
 * lets the applications do periodic work, kicks the devices once per pass,
 * and sleeps in hlt (irq_wait) with a platform wake-up timer when idle.
 *
 * Command line: ip=A.B.C.D/LEN gw=A.B.C.D [mac=..] [ip1=.. for a second
 * NIC] app=NAME[,NAME...] [stats-ms=N] [run-secs=N] [poll-us=N], plus the
 * per-application keys listed in apps.c. */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

/* True if `list` (comma-separated app names) names a network app. */
bool net_is_net_app_list(const char *list);
/* Runs the network apps named in `list`; returns the exit status. */
int net_main(const char *list);

/* For the applications (apps.c). */
struct net_app {
	const char *name;
	const char *help;
	int (*start)(void);	/* 0 or an exit status */
	bool (*poll)(uint64_t now_us, uint64_t *next_us);	/* true: did work */
	bool (*done)(void);	/* NULL: a server, runs until run-secs */
	void (*report)(void);	/* one line at stats time and at exit */
};
extern const struct net_app net_apps[];
extern const unsigned net_n_apps;

/* app=opsetloop (opsetloop.c). */
int opsetloop_start(void);
bool opsetloop_poll(uint64_t now_us, uint64_t *next_us);
bool opsetloop_done(void);
void opsetloop_report(void);

/* app=memload (memload.c). */
int memload_start(void);
bool memload_poll(uint64_t now_us, uint64_t *next_us);
void memload_report(void);

/* Parses "A.B.C.D[:PORT]"; false on bad input. */
bool net_parse_hostport(const char *s, ip4_addr_t *addr, uint16_t *port, uint16_t default_port);

#endif
