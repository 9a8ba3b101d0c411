/* vfio-user wire format: the subset compsc-vmm (client) and compsc-nic
 * (server) speak over a unix stream socket. Facts from QEMU's
 * docs/interop/vfio-user.rst; deviations in docs/vfio-user.md.
 *
 *   +--------+--------+-----------+-----------+----------+---------...
 *   | msg_id | command| msg_size  | flags     | error_no | payload
 *   | u16    | u16    | u32 (all) | u32       | u32      |
 *   +--------+--------+-----------+-----------+----------+---------...
 *   flags: bits 3:0 type (0 command, 1 reply), bit 4 no-reply, bit 5 error
 *
 * File descriptors (DMA_MAP's memory fd, SET_IRQS's eventfds) travel as
 * SCM_RIGHTS with the message. All integers little-endian. */
#ifndef CSC_COMMON_VFIO_USER_H
#define CSC_COMMON_VFIO_USER_H

#include <stdint.h>

enum vfu_command {
	VFU_VERSION = 1,
	VFU_DMA_MAP = 2,
	VFU_DMA_UNMAP = 3,
	VFU_DEVICE_GET_INFO = 4,
	VFU_DEVICE_GET_REGION_INFO = 5,
	VFU_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_DEVICE_GET_IRQ_INFO = 7,
	VFU_DEVICE_SET_IRQS = 8,
	VFU_REGION_READ = 9,
	VFU_REGION_WRITE = 10,
	VFU_DMA_READ = 11,
	VFU_DMA_WRITE = 12,
	VFU_DEVICE_RESET = 13,
};

#define VFU_FLAG_TYPE_MASK	0xfu
#define VFU_FLAG_COMMAND	0x0u
#define VFU_FLAG_REPLY		0x1u
#define VFU_FLAG_NO_REPLY	0x10u
#define VFU_FLAG_ERROR		0x20u

#define VFU_VERSION_MAJOR	0
#define VFU_VERSION_MINOR	1
#define VFU_MAX_MSG_SIZE	65536u	/* header included */
#define VFU_MAX_FDS		8

struct vfu_header {
	uint16_t msg_id;
	uint16_t command;
	uint32_t msg_size;
	uint32_t flags;
	uint32_t error_no;
} __attribute__((packed));

struct vfu_version {
	uint16_t major;
	uint16_t minor;
	/* followed by a NUL-terminated JSON capabilities string */
} __attribute__((packed));

struct vfu_dma_map {
	uint32_t argsz;
	uint32_t flags;		/* VFU_DMA_READ | VFU_DMA_WRITE */
	uint64_t offset;	/* into the fd */
	uint64_t addr;		/* I/O virtual address = guest-physical */
	uint64_t size;
} __attribute__((packed));

#define VFU_DMA_FLAG_READ	0x1u
#define VFU_DMA_FLAG_WRITE	0x2u

struct vfu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
} __attribute__((packed));

struct vfu_device_info {
	uint32_t argsz;
	uint32_t flags;		/* VFIO_DEVICE_FLAGS_* */
	uint32_t num_regions;
	uint32_t num_irqs;
} __attribute__((packed));

struct vfu_region_info {
	uint32_t argsz;
	uint32_t flags;		/* VFIO_REGION_INFO_FLAG_* */
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
} __attribute__((packed));

struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags;		/* VFIO_IRQ_INFO_* */
	uint32_t index;
	uint32_t count;
} __attribute__((packed));

struct vfu_irq_set {
	uint32_t argsz;
	uint32_t flags;		/* VFIO_IRQ_SET_DATA_* | VFIO_IRQ_SET_ACTION_* */
	uint32_t index;
	uint32_t start;
	uint32_t count;
} __attribute__((packed));

struct vfu_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* followed by count bytes of data (write request, read reply) */
} __attribute__((packed));

#endif
