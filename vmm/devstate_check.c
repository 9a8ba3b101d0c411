#include "devstate_check.h"

#include <errno.h>
#include <stdio.h>

#include "migration/devstate.h"

int devstate_check_version(const struct mig_device_ops *ops, uint32_t version, size_t len, size_t want_len,
			   char *err, size_t errlen)
{
	if (version >= ops->min_load_version && version <= ops->version && len == want_len)
		return 0;
	snprintf(err, errlen, "%s state: version %u of %zu bytes, this build loads versions %u..%u of %zu bytes",
		 ops->name, version, len, ops->min_load_version, ops->version, want_len);
	return -EPROTO;
}
