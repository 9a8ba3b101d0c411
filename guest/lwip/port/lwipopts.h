/* lwIP configuration of the CompSC guest: bare metal (NO_SYS), raw API only,
 * IPv4, one main loop that owns the whole stack (so no locking).
 * Sizes are for ~1 Gbit/s-class TCP with 128 KiB windows. */
#ifndef CSC_LWIPOPTS_H
#define CSC_LWIPOPTS_H

#define NO_SYS				1
#define SYS_LIGHTWEIGHT_PROT		0	/* nothing calls lwIP from interrupts */
#define LWIP_SOCKET			0
#define LWIP_NETCONN			0
#define LWIP_NETIF_API			0

/* Memory: lwIP's own heap and pools live in the guest image (.bss). */
#define MEM_LIBC_MALLOC			0
#define MEM_ALIGNMENT			8
#define MEM_SIZE			(4 * 1024 * 1024)
#define MEMP_NUM_PBUF			256
#define MEMP_NUM_UDP_PCB		16
#define MEMP_NUM_TCP_PCB		32
#define MEMP_NUM_TCP_PCB_LISTEN		8
#define MEMP_NUM_TCP_SEG		1024
#define MEMP_NUM_SYS_TIMEOUT		16
#define PBUF_POOL_SIZE			1024
#define PBUF_POOL_BUFSIZE		1536

#define LWIP_IPV4			1
#define LWIP_IPV6			0
#define LWIP_ARP			1
#define ETHARP_SUPPORT_STATIC_ENTRIES	1
/* Keep what is sent while the next hop's address is being resolved, as
 * Linux does (up to its unres_qlen); lwIP by default keeps only the
 * latest packet. A stream that starts at 2000/s must not lose its first
 * datagrams to an ARP reply slower than 0.5 ms (the likely cause of one
 * datagram missed by net-proc in CI). */
#define ARP_QUEUEING			1
#define ARP_QUEUE_LEN			64	/* per address (lwIP's default: 3) */
#define MEMP_NUM_ARP_QUEUE		128	/* all addresses together */
#define LWIP_ICMP			1
#define LWIP_RAW			0
#define LWIP_UDP			1
#define LWIP_TCP			1
#define LWIP_DHCP			0
#define LWIP_AUTOIP			0
#define LWIP_IGMP			0
#define LWIP_DNS			0
#define LWIP_NETIF_STATUS_CALLBACK	1
#define LWIP_NETIF_LINK_CALLBACK	1
#define LWIP_SINGLE_NETIF		0
#define IP_REASSEMBLY			1
#define IP_FRAG				1

/* TCP: 128 KiB windows need window scaling. */
#define TCP_MSS				1460
#define LWIP_WND_SCALE			1
#define TCP_RCV_SCALE			2
#define TCP_WND				(128 * 1024)
#define TCP_SND_BUF			(128 * 1024)
#define TCP_SND_QUEUELEN		(4 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT			(0xffff - 4 * TCP_MSS - 1)	/* a u16_t */
#define TCP_QUEUE_OOSEQ			1
#define TCP_OVERSIZE			TCP_MSS
#define LWIP_TCP_TIMESTAMPS		0
#define TCP_LISTEN_BACKLOG		1
#define LWIP_TCP_KEEPALIVE		0

#define LWIP_CHECKSUM_ON_COPY		1
#define LWIP_STATS			0
#define LWIP_STATS_DISPLAY		0

/* Applications. */
#define LWIP_HTTPD_SUPPORT_11_KEEPALIVE	1
#define LWIP_HTTPD_CGI			0
#define LWIP_HTTPD_SSI			0
#define LWIP_HTTPD_SUPPORT_POST		0
#define HTTPD_USE_CUSTOM_FSDATA		0
/* HTTPD_FSDATA_FILE: set by guest/lwip/meson.build (generated content) */
#define LWIP_HTTPD_DYNAMIC_HEADERS	0
#define HTTPD_SERVER_AGENT		"lwIP/2.1.3 (CompSC guest)"
#define HTTPD_MAX_WRITE_LEN(pcb)	((u16_t)(4 * TCP_MSS))

#define LWIP_DEBUG			0

#endif
