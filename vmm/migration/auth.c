/* Pre-migration authentication and the session keys, both sides.
 *
 *   source                                   destination
 *   preamble, HELLO(nonce_s, page size, flags) ->
 *                  <- preamble, HELLO_ACK(nonce_d, MAC_d, verdict)
 *   check MAC_d, then the verdict;
 *   AUTH(MAC_s) ->                           check MAC_s
 *   both: keys from the token and the nonces; every later record sealed
 *
 *   MAC_d = HMAC(token, "compsc-mig-destination" | nonce_s | nonce_d | flags | verdict)
 *   MAC_s = HMAC(token, "compsc-mig-source" | nonce_s | nonce_d | flags)
 *   flags: HELLO's (u32), verdict: HELLO_ACK's verdict bytes as sent
 *
 * Fresh nonces on both sides make each handshake unreplayable; each side
 * proves it knows the token before the other trusts anything it says, and
 * nothing about the VM is said before that (its shape and CPU features go
 * in RESERVE, the first sealed record). MAC_d covers the verdict, so a
 * refusal cannot be forged or altered; the source checks it before it
 * reads the verdict. The flags carry the source's --insecure-plaintext:
 * both sides must agree, and the MACs bind it, so nobody on the path can
 * turn encryption off (docs/migration-stream.md). Apart from the stages
 * because it is the one place that handles the secret. */
#include "internal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "../vm.h"

#define LABEL_DEST "compsc-mig-destination"
#define LABEL_SOURCE "compsc-mig-source"

/* HMAC-SHA256(token, label | nonce_s | nonce_d | u32 flags | extra). */
static int compute_mac(const char *token, const char *label, const uint8_t *ns, const uint8_t *nd, uint32_t flags,
		       const uint8_t *extra, size_t extra_len, uint8_t out[MIG_MAC_LEN])
{
	uint8_t msg[32 + 2 * MIG_NONCE_LEN + 4 + 8 + MIG_REASON_LEN];
	size_t ll = strlen(label), n = 0, outlen = 0;

	if (ll > 32 || extra_len > 8 + MIG_REASON_LEN)
		return -EINVAL;
	memcpy(msg, label, ll);
	n = ll;
	memcpy(msg + n, ns, MIG_NONCE_LEN);
	n += MIG_NONCE_LEN;
	memcpy(msg + n, nd, MIG_NONCE_LEN);
	n += MIG_NONCE_LEN;
	mig_put32(msg + n, flags);
	n += 4;
	if (extra_len)
		memcpy(msg + n, extra, extra_len);
	n += extra_len;
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, token, strlen(token), msg, n, out, MIG_MAC_LEN,
		       &outlen) || outlen != MIG_MAC_LEN)
		return -EIO;
	return 0;
}

/* After both MACs checked: every later record of both directions is
 * sealed with its direction's key, unless both sides chose plaintext. */
static int start_sealing(struct migration *m, const uint8_t *ns, const uint8_t *nd)
{
	uint8_t k_sd[MIG_KEY_LEN], k_ds[MIG_KEY_LEN];
	bool src = m->p.source;
	int ret;

	if (m->plaintext)
		return 0;
	ret = mig_derive_keys(m->token, strlen(m->token), ns, nd, k_sd, k_ds);
	if (ret == 0)
		ret = mig_io_set_key(&m->io, true, src ? k_sd : k_ds);
	if (ret == 0)
		ret = mig_io_set_key(&m->io, false, src ? k_ds : k_sd);
	OPENSSL_cleanse(k_sd, sizeof(k_sd));
	OPENSSL_cleanse(k_ds, sizeof(k_ds));
	if (ret < 0)
		mig_io_clear_keys(&m->io);
	return ret;
}

static const char *mode_name(bool plaintext)
{
	return plaintext ? "with --insecure-plaintext" : "encrypted (without --insecure-plaintext)";
}

int mig_auth_source(struct migration *m)
{
	struct mig_hello h = { .page_size = MIG_PAGE_SIZE, .flags = m->plaintext ? MIG_HELLO_PLAINTEXT : 0 };
	uint8_t buf[MIG_HELLO_LEN], mac[MIG_MAC_LEN];
	struct mig_hello_ack ack;
	struct mig_rec rec;
	char err[300];
	int ret;

	if (getrandom(h.nonce, sizeof(h.nonce), 0) != sizeof(h.nonce))
		return mig_fail(m, -EIO, "getrandom: %s", strerror(errno));
	mig_encode_hello(buf, &h);
	if ((ret = mig_write_preamble(&m->io, MIG_DIR_TO_DEST)) < 0 ||
	    (ret = mig_send(&m->io, MIG_REC_HELLO, buf, sizeof(buf))) < 0)
		return mig_fail(m, ret, "sending HELLO: %s", strerror(-ret));
	if ((ret = mig_read_preamble(&m->io, MIG_DIR_TO_SOURCE, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "destination: %s", err);
	if ((ret = mig_recv_expect(m, MIG_REC_HELLO_ACK, &rec, "HELLO_ACK")) < 0)
		return ret;
	if ((ret = mig_parse_hello_ack(rec.body, rec.len, &ack, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "destination: %s", err);
	/* The MAC first: until it verifies, the verdict is anybody's. */
	if (compute_mac(m->token, LABEL_DEST, h.nonce, ack.nonce, h.flags, rec.body + MIG_HELLO_ACK_VERDICT_OFF,
			rec.len - MIG_HELLO_ACK_VERDICT_OFF, mac) < 0)
		return mig_fail(m, -EIO, "HMAC failed");
	if (CRYPTO_memcmp(mac, ack.mac, MIG_MAC_LEN) != 0)
		return mig_fail(m, -EACCES, "authentication failed: the destination's HELLO_ACK does not verify "
			    "(the two sides do not share the migration token, or the reply was altered on the way)");
	if (ack.v.status < 0)
		return mig_fail(m, ack.v.status, "the destination refused: %s", ack.v.reason);
	if (compute_mac(m->token, LABEL_SOURCE, h.nonce, ack.nonce, h.flags, NULL, 0, mac) < 0)
		return mig_fail(m, -EIO, "HMAC failed");
	if ((ret = mig_send(&m->io, MIG_REC_AUTH, mac, sizeof(mac))) < 0)
		return mig_fail(m, ret, "sending AUTH: %s", strerror(-ret));
	if ((ret = start_sealing(m, h.nonce, ack.nonce)) < 0)
		return mig_fail(m, ret, "cannot set up the session keys: %s", strerror(-ret));
	return mig_check_cancel(m);
}

/* Destination. Any failure here is an unauthenticated peer's doing: the
 * caller drops the connection and keeps listening (dest.c). */
int mig_auth_dest(struct migration *m)
{
	struct mig_hello h;
	struct mig_hello_ack ack = { 0 };
	struct mig_rec rec;
	uint8_t buf[MIG_NONCE_LEN + MIG_MAC_LEN + 8 + MIG_REASON_LEN], mac[MIG_MAC_LEN];
	char err[300];
	int ret;

	if ((ret = mig_read_preamble(&m->io, MIG_DIR_TO_DEST, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "bad stream: %s", err);
	if ((ret = mig_recv_expect(m, MIG_REC_HELLO, &rec, "HELLO")) < 0)
		return ret;
	if ((ret = mig_parse_hello(rec.body, rec.len, &h, err, sizeof(err))) < 0)
		return mig_fail(m, ret, "bad stream: %s", err);
	if (getrandom(ack.nonce, sizeof(ack.nonce), 0) != sizeof(ack.nonce))
		return mig_fail(m, -EIO, "cannot create the handshake");
	bool src_plain = h.flags & MIG_HELLO_PLAINTEXT;
	if (src_plain != m->plaintext) {
		ack.v.status = -EPROTO;
		snprintf(ack.v.reason, sizeof(ack.v.reason),
			 "stream protection differs: the source runs %s, the destination %s; start both the same way",
			 mode_name(src_plain), mode_name(m->plaintext));
	}
	/* The verdict is encoded first: MAC_d covers its bytes as sent. */
	uint32_t len = mig_encode_hello_ack(buf, &ack);
	if (compute_mac(m->token, LABEL_DEST, h.nonce, ack.nonce, h.flags, buf + MIG_HELLO_ACK_VERDICT_OFF,
			len - MIG_HELLO_ACK_VERDICT_OFF, buf + MIG_NONCE_LEN) < 0)
		return mig_fail(m, -EIO, "cannot create the handshake");
	int wret = mig_write_preamble(&m->io, MIG_DIR_TO_SOURCE);
	if (wret == 0)
		wret = mig_send(&m->io, MIG_REC_HELLO_ACK, buf, len);
	if (ack.v.status < 0)
		return mig_fail(m, ack.v.status, "refused: %s", ack.v.reason);
	if (wret < 0)
		return mig_fail(m, wret, "sending HELLO_ACK: %s", strerror(-wret));
	if ((ret = mig_recv_expect(m, MIG_REC_AUTH, &rec, "AUTH")) < 0)
		return ret;
	if (compute_mac(m->token, LABEL_SOURCE, h.nonce, ack.nonce, h.flags, NULL, 0, mac) < 0)
		return mig_fail(m, -EIO, "HMAC failed");
	if (rec.len != MIG_MAC_LEN || CRYPTO_memcmp(mac, rec.body, MIG_MAC_LEN) != 0) {
		mig_fail(m, -EACCES, "authentication failed: the source does not know the migration token");
		mig_send_verdict(m, MIG_REC_ERROR, -EACCES, "authentication failed");
		return -EACCES;
	}
	if ((ret = start_sealing(m, h.nonce, ack.nonce)) < 0)
		return mig_fail(m, ret, "cannot set up the session keys: %s", strerror(-ret));
	return 0;
}
