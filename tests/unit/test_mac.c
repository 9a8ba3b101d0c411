/* MAC address helpers shared by the VMM, the NIC, the tools and the guest:
 * text both ways, the mailbox word form, and hostile text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/mac.h"

static void test_parse_good(void **state)
{
	uint8_t mac[6];
	(void)state;

	assert_int_equal(mac_parse("02:00:00:0a:00:10", mac), 0);
	assert_memory_equal(mac, "\x02\x00\x00\x0a\x00\x10", 6);
	assert_int_equal(mac_parse("52:54:AB:cd:Ef:ff", mac), 0);
	assert_memory_equal(mac, "\x52\x54\xab\xcd\xef\xff", 6);
	assert_int_equal(mac_parse("ff:ff:ff:ff:ff:ff", mac), 0);	/* broadcast parses; it is not unicast */
	assert_false(mac_is_unicast(mac));
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "02", "02:00:00:00:00", "02:00:00:00:00:1", "2:0:0:0:0:1", "02:00:00:00:00:100",
		"02:00:00:00:00:10:", "02:00:00:00:00:10 ", " 02:00:00:00:00:10", "02-00-00-00-00-10",
		"02:00:00:00:00:1g", "0x:00:00:00:00:10", "02::00:00:00:00:10", "020000000010",
		"02:00:00:00:00:10\n", "+2:00:00:00:00:10",
	};
	uint8_t mac[6];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(mac, "\x11\x22\x33\x44\x55\x66", 6);
		assert_int_equal(mac_parse(bad[i], mac), -EINVAL);
		/* A refused string leaves the caller's address alone. */
		assert_memory_equal(mac, "\x11\x22\x33\x44\x55\x66", 6);
	}
	assert_int_equal(mac_parse(NULL, mac), -EINVAL);
}

static void test_format_roundtrip(void **state)
{
	char text[MAC_STR_LEN];
	uint8_t mac[6], back[6];
	(void)state;

	memcpy(mac, "\x02\xab\x00\x0f\xf0\x99", 6);
	assert_ptr_equal(mac_format(mac, text), text);
	assert_string_equal(text, "02:ab:00:0f:f0:99");
	assert_int_equal(strlen(text), MAC_STR_LEN - 1);
	for (unsigned v = 0; v < 256; v++) {
		for (int i = 0; i < 6; i++)
			mac[i] = (uint8_t)(v * (i + 7) + i);
		assert_int_equal(mac_parse(mac_format(mac, text), back), 0);
		assert_memory_equal(back, mac, 6);
	}
}

static void test_unicast(void **state)
{
	(void)state;
	assert_true(mac_is_unicast((const uint8_t *)"\x02\x00\x00\x00\x00\x01"));
	assert_false(mac_is_unicast((const uint8_t *)"\x01\x00\x5e\x00\x00\x01"));
	assert_true(mac_is_valid_unicast((const uint8_t *)"\x02\x00\x00\x00\x00\x01"));
	assert_false(mac_is_valid_unicast((const uint8_t *)"\x00\x00\x00\x00\x00\x00"));
	assert_false(mac_is_valid_unicast((const uint8_t *)"\x03\x00\x00\x00\x00\x01"));
	assert_true(mac_is_valid_unicast((const uint8_t *)"\x00\x00\x00\x00\x00\x01"));
}

static void test_words(void **state)
{
	const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	uint32_t w[2];
	uint8_t back[6];
	(void)state;

	/* The 82576 mailbox layout: little-endian, high half of w[1] zero. */
	mac_to_words(mac, w);
	assert_int_equal(w[0], 0x33221102u);
	assert_int_equal(w[1], 0x00005544u);
	mac_from_words(w, back);
	assert_memory_equal(back, mac, 6);
	w[1] |= 0xabcd0000u;	/* a guest's junk in the unused half is ignored */
	mac_from_words(w, back);
	assert_memory_equal(back, mac, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_unicast),
		cmocka_unit_test(test_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
