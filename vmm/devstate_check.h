/* The first check of every device's load(): is this a state version the
 * device loads, and does the state have the size that version has? One
 * helper, so every device answers a foreign or truncated state the same way
 * (-EPROTO, as mig_registry_check does for a version it cannot load) with
 * the same kind of message. */
#ifndef CSC_VMM_DEVSTATE_CHECK_H
#define CSC_VMM_DEVSTATE_CHECK_H

#include <stddef.h>
#include <stdint.h>

struct mig_device_ops;

/* 0 if ops->min_load_version <= version <= ops->version and len == want_len;
 * else -EPROTO with "<name> state: version V of N bytes, this build loads
 * versions A..B of M bytes" in err. */
int devstate_check_version(const struct mig_device_ops *ops, uint32_t version, size_t len, size_t want_len,
			   char *err, size_t errlen);

#endif
