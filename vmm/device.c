/* The device registry (device.h). No KVM, no I/O: unit-tested. */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int device_registry_add(struct device_registry *r, const struct device_ops *ops, void *dev, unsigned instance)
{
	char name[DEV_NAME_LEN];
	int n = ops->numbered ? snprintf(name, sizeof(name), "%s%u", ops->name, instance)
			      : snprintf(name, sizeof(name), "%s", ops->name);

	if (n < 0 || n >= (int)sizeof(name) || !mig_dev_name_valid(name) || device_registry_find(r, name) >= 0)
		return -EINVAL;
	if (r->n == DEV_MAX)
		return -ENOSPC;
	r->dev[r->n] = (struct device_entry){ .ops = ops, .dev = dev };
	memcpy(r->dev[r->n].name, name, (size_t)n + 1);
	r->n++;
	return 0;
}

int device_registry_find(const struct device_registry *r, const char *name)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->dev[i].name, name) == 0)
			return (int)i;
	return -1;
}

void device_registry_describe(const struct device_registry *r, struct mig_reserve *res)
{
	res->n_devices = 0;
	for (unsigned i = 0; i < r->n; i++) {
		if (!device_migrates(&r->dev[i]))
			continue;
		struct mig_dev_desc *d = &res->dev[res->n_devices++];
		memset(d->name, 0, MIG_DEV_NAME_LEN);
		snprintf(d->name, MIG_DEV_NAME_LEN, "%s", r->dev[i].name);
		d->version = r->dev[i].ops->version;
	}
}

int device_registry_check(const struct device_registry *r, const struct mig_reserve *res, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < res->n_devices; i++) {
		int k = device_registry_find(r, res->dev[i].name);
		if (k < 0 || !device_migrates(&r->dev[k])) {
			snprintf(err, errlen, "device '%s' (state version %u) is missing on the destination",
				 res->dev[i].name, res->dev[i].version);
			return -ENODEV;
		}
		const struct device_ops *ops = r->dev[k].ops;
		if (res->dev[i].version > ops->version || res->dev[i].version < ops->min_load_version) {
			snprintf(err, errlen, "device '%s': source state version %u, destination loads %u..%u",
				 res->dev[i].name, res->dev[i].version, ops->min_load_version, ops->version);
			return -EPROTO;
		}
	}
	/* A device the source does not have would start from reset state on
	 * the destination while the guest believes it is configured. */
	for (unsigned k = 0; k < r->n; k++) {
		if (!device_migrates(&r->dev[k]))
			continue;
		bool found = false;
		for (uint32_t i = 0; i < res->n_devices && !found; i++)
			found = strcmp(res->dev[i].name, r->dev[k].name) == 0;
		if (!found) {
			snprintf(err, errlen, "device '%s' exists on the destination but not on the source",
				 r->dev[k].name);
			return -ENODEV;
		}
	}
	return 0;
}

int device_check_version(const struct device_ops *ops, uint32_t version, size_t len, size_t want_len, char *err,
			 size_t errlen)
{
	if (version >= ops->min_load_version && version <= ops->version && len == want_len)
		return 0;
	snprintf(err, errlen, "%s state: version %u of %zu bytes, this build loads versions %u..%u of %zu bytes",
		 ops->name, version, len, ops->min_load_version, ops->version, want_len);
	return -EPROTO;
}
