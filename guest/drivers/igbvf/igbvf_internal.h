/* Internals shared by the igbvf driver's files: the hardware steps that
 * both a normal op set (netdev.c) and the restoration's replay (compsc.c)
 * use, so that a migrated VF is programmed by the code that programs a
 * fresh one. */
#ifndef GUEST_IGBVF_INTERNAL_H
#define GUEST_IGBVF_INTERNAL_H

#include "igbvf.h"

/* The statistics registers, in struct igbvf_stats order. */
extern const uint32_t igbvf_counter_regs[IGBVF_N_COUNTERS];

/* Programs queue 0's ring (base, length; RX also SRRCTL) - which puts the
 * device's head at 0 - with tail (in the device's view), and enables the
 * queue. The descriptors are not touched: that is the caller's business
 * (a fresh up arms them, a restoration keeps them). */
void igbvf_hw_program_ring(struct igbvf_adapter *a, bool tx, uint32_t tail);
/* IVAR, EITR, EIAC, EIAM (eims 0: mask everything, polling mode). */
void igbvf_hw_configure_interrupts(struct igbvf_adapter *a, const struct csc_intr_rec *intr);
/* Unmask a->intr.eims; mark up. */
void igbvf_hw_up(struct igbvf_adapter *a);
/* Mask, queues off; mark down. */
void igbvf_hw_down(struct igbvf_adapter *a);

#endif
