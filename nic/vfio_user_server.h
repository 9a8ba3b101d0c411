/* Each VF is served to one VMM at a time over a unix socket in the run
 * directory (vfN.sock), speaking the vfio-user subset of common/vfio_user.h.
 * The client is untrusted: every message is size-checked, every offset
 * bounds-checked, and a protocol error closes only that connection. */
#ifndef CSC_NIC_VFIO_USER_SERVER_H
#define CSC_NIC_VFIO_USER_SERVER_H

#include <stddef.h>

struct nic;

/* Serves VF vf at path (replacing a stale socket); from now on the NIC
 * drops connections through nic->transport. 0 or -errno with a message. */
int vfio_user_listen(struct nic *nic, unsigned vf, const char *path, char *err, size_t err_len);

#endif
