/* MAC address text and mailbox words (see mac.h). No libc calls: the
 * guest links this file too. */
#include "mac.h"

#include "csc_errno.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *text, uint8_t mac[6])
{
	uint8_t out[6];

	if (!text)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		/* Two digits each: "2:0:0:0:0:1" is refused, so that one
		 * address has one spelling (up to case). */
		int hi = hex_digit(text[0]);
		int lo = hi < 0 ? -1 : hex_digit(text[1]);
		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
		text += 2;
		if (*text != (i < 5 ? ':' : '\0'))
			return -EINVAL;
		text++;
	}
	/* Only now: a bad string leaves the caller's address as it was. */
	for (int i = 0; i < 6; i++)
		mac[i] = out[i];
	return 0;
}

char *mac_format(const uint8_t mac[6], char buf[MAC_STR_LEN])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 6; i++) {
		buf[3 * i] = digits[mac[i] >> 4];
		buf[3 * i + 1] = digits[mac[i] & 0xf];
		buf[3 * i + 2] = i < 5 ? ':' : '\0';
	}
	return buf;
}

bool mac_is_unicast(const uint8_t mac[6])
{
	return !(mac[0] & 1);
}

bool mac_is_valid_unicast(const uint8_t mac[6])
{
	uint8_t any = 0;

	for (int i = 0; i < 6; i++)
		any |= mac[i];
	return mac_is_unicast(mac) && any != 0;
}

void mac_to_words(const uint8_t mac[6], uint32_t w[2])
{
	w[0] = (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 | (uint32_t)mac[3] << 24;
	w[1] = (uint32_t)mac[4] | (uint32_t)mac[5] << 8;
}

void mac_from_words(const uint32_t w[2], uint8_t mac[6])
{
	for (int i = 0; i < 4; i++)
		mac[i] = (uint8_t)(w[0] >> (8 * i));
	mac[4] = (uint8_t)w[1];
	mac[5] = (uint8_t)(w[1] >> 8);
}
