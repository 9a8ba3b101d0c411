/* The host's control of the NIC (what `ip link set ... vf N` and ethtool
 * give on a real host): a unix stream socket, pf.sock in the run directory,
 * one command per line, one JSON object per reply line.
 *
 *   list                         every VF: assignment, MAC, state, counters
 *   assign N [mac=MAC] [owner=S] assign VF N (MAC fixed by the host)
 *   free N                       return VF N to the pool
 *   enable N | disable N         start / stop VF N's queues (RX is held)
 *   regs N                       VF N's registers, read side-effect free
 *   stats                        uplink and switch counters
 */
#ifndef CSC_NIC_PF_CTL_H
#define CSC_NIC_PF_CTL_H

#include <stddef.h>

struct nic;

int pf_ctl_listen(struct nic *nic, const char *path, char *err, size_t err_len);
/* Executes one command line; writes one JSON line (without newline) to out. */
void pf_ctl_execute(struct nic *nic, const char *line, char *out, size_t out_len);

#endif
