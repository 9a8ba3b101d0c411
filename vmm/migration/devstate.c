#include "devstate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int mig_registry_add(struct mig_registry *r, const struct mig_device_ops *ops, void *opaque)
{
	if (!mig_dev_name_valid(ops->name) || mig_registry_find(r, ops->name) >= 0)
		return -EINVAL;
	if (r->n == MIG_MAX_DEVICES)
		return -ENOSPC;
	r->dev[r->n].ops = ops;
	r->dev[r->n].opaque = opaque;
	r->n++;
	return 0;
}

int mig_registry_find(const struct mig_registry *r, const char *name)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->dev[i].ops->name, name) == 0)
			return (int)i;
	return -1;
}

void mig_registry_describe(const struct mig_registry *r, struct mig_reserve *res)
{
	res->n_devices = r->n;
	for (unsigned i = 0; i < r->n; i++) {
		memset(res->dev[i].name, 0, MIG_DEV_NAME_LEN);
		snprintf(res->dev[i].name, MIG_DEV_NAME_LEN, "%s", r->dev[i].ops->name);
		res->dev[i].version = r->dev[i].ops->version;
	}
}

int mig_registry_check(const struct mig_registry *r, const struct mig_reserve *res, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < res->n_devices; i++) {
		int k = mig_registry_find(r, res->dev[i].name);
		if (k < 0) {
			snprintf(err, errlen, "device '%s' (state version %u) is missing on the destination",
				 res->dev[i].name, res->dev[i].version);
			return -ENODEV;
		}
		const struct mig_device_ops *ops = r->dev[k].ops;
		if (res->dev[i].version > ops->version || res->dev[i].version < ops->min_load_version) {
			snprintf(err, errlen, "device '%s': source state version %u, destination loads %u..%u",
				 res->dev[i].name, res->dev[i].version, ops->min_load_version, ops->version);
			return -EPROTO;
		}
	}
	/* A device the source does not have would start from reset state on
	 * the destination while the guest believes it is configured. */
	for (unsigned k = 0; k < r->n; k++) {
		bool found = false;
		for (uint32_t i = 0; i < res->n_devices && !found; i++)
			found = strcmp(res->dev[i].name, r->dev[k].ops->name) == 0;
		if (!found) {
			snprintf(err, errlen, "device '%s' exists on the destination but not on the source",
				 r->dev[k].ops->name);
			return -ENODEV;
		}
	}
	return 0;
}
