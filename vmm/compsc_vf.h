/* CompSC's hypervisor side for a VF (compsc_vf.c has the stage table):
 * the migration hooks of the VF device. */
#ifndef CSC_VMM_COMPSC_VF_H
#define CSC_VMM_COMPSC_VF_H

#include <stddef.h>
#include <stdint.h>

#include "vf_device.h"

struct mig_carried;

#define COMPSC_VF_STATE_VERSION 1

/* After attaching: the VF's queues run (an earlier owner's migration may
 * have left them stopped at the PF). Best effort. */
void compsc_vf_attached(struct vf_device *d);
void compsc_vf_migrate_begin(void *dev);
int compsc_vf_migrate_quiesce(void *dev, char *err, size_t errlen);
void compsc_vf_migrate_abort(void *dev);
int compsc_vf_save(void *dev, uint8_t *buf, size_t cap, size_t *len, char *why, size_t whylen);
int compsc_vf_load(void *dev, uint32_t version, const uint8_t *buf, size_t len, char *err, size_t errlen);
void compsc_vf_activate(void *dev);
void compsc_vf_running(void *dev);
int compsc_vf_late_save(void *dev, uint8_t *buf, size_t cap, size_t *len);
int compsc_vf_late_load(void *dev, const uint8_t *buf, size_t len, char *err, size_t errlen);
void compsc_vf_migrate_carried(void *dev, struct mig_carried *c);

#endif
