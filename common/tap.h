/* TAP devices for the host programs: the VMM's virtio-net back-end and the
 * NIC's tap: uplink. Host only. */
#ifndef CSC_COMMON_TAP_H
#define CSC_COMMON_TAP_H

/* IFNAMSIZ, without pulling <net/if.h> or <linux/if.h> into every user
 * (the two conflict when both are included). */
#define TAP_IFNAMSIZ 16

/* Attaches to the TAP device `name` (the kernel creates it if it may):
 * Ethernet frames without the packet-information header, non-blocking,
 * close-on-exec. Returns the fd, or -errno (-EINVAL for an empty name or
 * one of TAP_IFNAMSIZ characters or more; -EPERM without CAP_NET_ADMIN on a TAP
 * the caller does not own). If actual is not NULL it receives the
 * interface's name (TAP_IFNAMSIZ bytes). */
int tap_open(const char *name, char *actual);

/* Sets the interface administratively up, so frames flow as soon as it is
 * bridged. 0 or -errno. */
int tap_set_up(const char *name);

#endif
