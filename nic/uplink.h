/* The NIC's uplink port.
 *   tap:NAME    a TAP device (the test bed puts it on a Linux bridge)
 *   dgram:PATH  a unix datagram "wire": the NIC binds PATH and sends each
 *               frame as one datagram to PATH.peer, where a test program
 *               listens; it receives whatever is sent to PATH. */
#ifndef CSC_NIC_UPLINK_H
#define CSC_NIC_UPLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uplink;

/* Returns NULL with a message in err. */
struct uplink *uplink_open(const char *spec, char *err, size_t err_len);
void uplink_close(struct uplink *u);
int uplink_fd(const struct uplink *u);
/* 0, or -errno (the frame is lost; the caller counts it). */
int uplink_send(struct uplink *u, const uint8_t *frame, size_t len);
/* Bytes of one frame, 0 if nothing is waiting, or -errno. */
ssize_t uplink_recv(struct uplink *u, uint8_t *buf, size_t cap);
const char *uplink_describe(const struct uplink *u);

#endif
