#include "vf_regtable.h"

#include "vf82576.h"

#define ALL 0xffffffffu
#define SE VF_REGF_SIDE_EFFECT
#define MIG VF_REGF_MIGRATE
#define CNT VF_REGF_COUNTER

#define QUEUE_REGS(n)                                                                          \
	{ VF_RDBAL(n), VF_REG_RW, SE, 0, 0xffffffe0u, "RDBAL" #n },                           \
	{ VF_RDBAH(n), VF_REG_RW, SE, 0, ALL, "RDBAH" #n },                                  \
	{ VF_RDLEN(n), VF_REG_RW, SE, 0, 0x000fff80u, "RDLEN" #n },                           \
	{ VF_SRRCTL(n), VF_REG_RW, MIG, 0x00000002u,                                           \
	  VF_SRRCTL_BSIZEPKT_MASK | VF_SRRCTL_BSIZEHDR_MASK | VF_SRRCTL_DESCTYPE_MASK |         \
		  VF_SRRCTL_DROP_EN, "SRRCTL" #n },                                             \
	{ VF_RDH(n), VF_REG_RO, VF_REGF_RING_HEAD, 0, 0, "RDH" #n },                          \
	{ VF_RXCTL(n), VF_REG_RW, MIG, 0, ALL, "RXCTL" #n },                                  \
	{ VF_RDT(n), VF_REG_RW, SE, 0, 0xffffu, "RDT" #n },                                   \
	{ VF_RXDCTL(n), VF_REG_RW, SE, 0x00010000u, 0x021f1f1fu, "RXDCTL" #n },               \
	{ VF_RQDPC(n), VF_REG_RC, 0, 0, 0, "RQDPC" #n }

#define TX_QUEUE_REGS(n)                                                                       \
	{ VF_TDBAL(n), VF_REG_RW, SE, 0, 0xffffffe0u, "TDBAL" #n },                           \
	{ VF_TDBAH(n), VF_REG_RW, SE, 0, ALL, "TDBAH" #n },                                  \
	{ VF_TDLEN(n), VF_REG_RW, SE, 0, 0x000fff80u, "TDLEN" #n },                           \
	{ VF_TDH(n), VF_REG_RO, VF_REGF_RING_HEAD, 0, 0, "TDH" #n },                          \
	{ VF_TXCTL(n), VF_REG_RW, MIG, 0, ALL, "TXCTL" #n },                                  \
	{ VF_TDT(n), VF_REG_RW, SE, 0, 0xffffu, "TDT" #n },                                   \
	{ VF_TXDCTL(n), VF_REG_RW, SE, 0, 0x021f1f1fu, "TXDCTL" #n },                         \
	{ VF_TDWBAL(n), VF_REG_RW, MIG, 0, 0xfffffffdu, "TDWBAL" #n },                        \
	{ VF_TDWBAH(n), VF_REG_RW, MIG, 0, ALL, "TDWBAH" #n }

#define MBX_WORD(i) { VF_VMBMEM + 4 * (i), VF_REG_RW, 0, 0, ALL, "VMBMEM" #i }

/* Sorted by offset (vf82576_reg_lookup relies on it; a unit test checks). */
const struct vf_reg_info vf82576_regs[] = {
	{ VF_CTRL, VF_REG_SC, SE, 0, VF_CTRL_RST, "CTRL" },
	{ VF_STATUS, VF_REG_RO, VF_REGF_DYNAMIC, VF_STATUS_FD | VF_STATUS_LU | VF_STATUS_SPEED_1000, 0, "STATUS" },
	MBX_WORD(0), MBX_WORD(1), MBX_WORD(2), MBX_WORD(3), MBX_WORD(4), MBX_WORD(5),
	MBX_WORD(6), MBX_WORD(7), MBX_WORD(8), MBX_WORD(9), MBX_WORD(10), MBX_WORD(11),
	MBX_WORD(12), MBX_WORD(13), MBX_WORD(14), MBX_WORD(15),
	{ VF_V2PMAILBOX, VF_REG_RW, SE, 0, VF_MBX_REQ | VF_MBX_ACK | VF_MBX_VFU, "V2PMAILBOX" },
	{ VF_GPRC, VF_REG_RO, CNT, 0, 0, "VFGPRC" },
	{ VF_GPTC, VF_REG_RO, CNT, 0, 0, "VFGPTC" },
	{ VF_GORC, VF_REG_RO, CNT, 0, 0, "VFGORC" },
	{ VF_GOTC, VF_REG_RO, CNT, 0, 0, "VFGOTC" },
	{ VF_MPRC, VF_REG_RO, CNT, 0, 0, "VFMPRC" },
	{ VF_GPRLBC, VF_REG_RO, CNT, 0, 0, "VFGPRLBC" },
	{ VF_GPTLBC, VF_REG_RO, CNT, 0, 0, "VFGPTLBC" },
	{ VF_GORLBC, VF_REG_RO, CNT, 0, 0, "VFGORLBC" },
	{ VF_GOTLBC, VF_REG_RO, CNT, 0, 0, "VFGOTLBC" },
	{ VF_FRTIMER, VF_REG_RO, VF_REGF_DYNAMIC, 0, 0, "FRTIMER" },
	{ VF_EICS, VF_REG_WO, SE, 0, VF_EICR_MASK, "EICS" },
	{ VF_EIMS, VF_REG_W1S, SE, 0, VF_EICR_MASK, "EIMS" },
	{ VF_EIMC, VF_REG_WO, SE, 0, VF_EICR_MASK, "EIMC" },
	{ VF_EIAC, VF_REG_RW, MIG, 0, VF_EICR_MASK, "EIAC" },
	{ VF_EIAM, VF_REG_RW, MIG, 0, VF_EICR_MASK, "EIAM" },
	{ VF_EICR, VF_REG_RC_W1C, 0, 0, VF_EICR_MASK, "EICR" },
	{ VF_EITR(0), VF_REG_RW, MIG, 0, VF_EITR_INTERVAL_MASK | VF_EITR_CNT_IGNR, "EITR0" },
	{ VF_EITR(1), VF_REG_RW, MIG, 0, VF_EITR_INTERVAL_MASK | VF_EITR_CNT_IGNR, "EITR1" },
	{ VF_EITR(2), VF_REG_RW, MIG, 0, VF_EITR_INTERVAL_MASK | VF_EITR_CNT_IGNR, "EITR2" },
	{ VF_IVAR0, VF_REG_RW, MIG, 0, 0x83838383u, "IVAR0" },
	{ VF_IVAR_MISC, VF_REG_RW, MIG, 0, 0x83u, "IVAR_MISC" },
	QUEUE_REGS(0),
	QUEUE_REGS(1),
	TX_QUEUE_REGS(0),
	TX_QUEUE_REGS(1),
};

const unsigned vf82576_n_regs = sizeof(vf82576_regs) / sizeof(vf82576_regs[0]);

const struct vf_reg_info *vf82576_reg_lookup(uint32_t offset)
{
	unsigned lo = 0, hi = vf82576_n_regs;

	if (offset & 3)
		return 0;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (vf82576_regs[mid].offset == offset)
			return &vf82576_regs[mid];
		if (vf82576_regs[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

const char *vf_reg_class_name(unsigned cls)
{
	static const char *const names[] = { "RW", "RO", "WO", "W1S", "RC", "RC/W1C", "SC", "reserved" };

	return cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "?";
}
