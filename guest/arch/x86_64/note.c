/* The CompSC bindings note: tells the VMM, before it starts anything, that
 * this image runs under both accelerators (common/guest_abi.h). */
#include <stdint.h>

#include "../../../common/guest_abi.h"

static const struct {
	uint32_t namesz, descsz, type;
	char name[8];		/* "CompSC\0", padded to 4 bytes */
	uint32_t bindings;
} compsc_note __attribute__((section(".note.compsc"), aligned(4), used)) = {
	.namesz = sizeof(CSC_NOTE_NAME), .descsz = 4, .type = CSC_NOTE_BINDINGS,
	.name = CSC_NOTE_NAME, .bindings = CSC_BINDING_KVM | CSC_BINDING_PROC,
};
