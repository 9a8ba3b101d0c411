/* Ethernet MAC addresses as text and as mailbox words: one parser and one
 * formatter for the VMM, the NIC, the tools and the guest.
 *
 * Freestanding (no libc), so the guest builds the same file. */
#ifndef CSC_COMMON_MAC_H
#define CSC_COMMON_MAC_H

#include <stdbool.h>
#include <stdint.h>

/* "xx:xx:xx:xx:xx:xx" plus the terminating NUL. */
#define MAC_STR_LEN 18

/* Parses exactly six two-digit hex bytes separated by ':' (either case),
 * nothing before or after. 0, or -EINVAL (mac is then unchanged). Any
 * address is accepted; callers that need a station address also check
 * mac_is_unicast(). */
int mac_parse(const char *text, uint8_t mac[6]);

/* Writes "xx:xx:xx:xx:xx:xx" (lower case) into buf; returns buf, so it can
 * be an argument of printf. */
char *mac_format(const uint8_t mac[6], char buf[MAC_STR_LEN]);

/* The group bit (bit 0 of the first byte) is clear: not multicast or
 * broadcast. */
bool mac_is_unicast(const uint8_t mac[6]);

/* A unicast address that is not all zeroes: what a NIC may filter on. */
bool mac_is_valid_unicast(const uint8_t mac[6]);

/* The 82576 mailbox carries a MAC in two little-endian words: bytes 0..3
 * in w[0], bytes 4..5 in the low half of w[1] (the high half is zero). */
void mac_to_words(const uint8_t mac[6], uint32_t w[2]);
void mac_from_words(const uint32_t w[2], uint8_t mac[6]);

#endif
