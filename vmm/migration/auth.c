/* Pre-migration authentication: the HMAC-SHA256 handshake on both sides.
 *
 *   source                                   destination
 *   preamble, HELLO(nonce_s, RAM, vCPUs, CPUID) ->
 *                  <- preamble, HELLO_ACK(nonce_d, MAC_d, verdict)
 *   check MAC_d; AUTH(MAC_s) ->              check MAC_s
 *
 *   MAC_d = HMAC(token, "compsc-mig-destination" | nonce_s | nonce_d)
 *   MAC_s = HMAC(token, "compsc-mig-source" | nonce_s | nonce_d)
 *
 * Fresh nonces on both sides make each handshake unreplayable; each side
 * proves it knows the token before the other trusts anything it says
 * (docs/migration-stream.md). Apart from the stages because it is the one
 * place that handles the secret. */
#include "internal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "../vm.h"

static int compute_mac(const char *token, const char *label, const uint8_t *ns, const uint8_t *nd,
		       uint8_t out[MIG_MAC_LEN])
{
	uint8_t msg[64 + 2 * MIG_NONCE_LEN];
	size_t ll = strlen(label), outlen = 0;

	memcpy(msg, label, ll);
	memcpy(msg + ll, ns, MIG_NONCE_LEN);
	memcpy(msg + ll + MIG_NONCE_LEN, nd, MIG_NONCE_LEN);
	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, token, strlen(token), msg, ll + 2 * MIG_NONCE_LEN,
		       out, MIG_MAC_LEN, &outlen) || outlen != MIG_MAC_LEN)
		return -EIO;
	return 0;
}

int mig_auth_source(struct migration *m)
{
	struct mig_hello h = { .ram_size = m->vm->ram_size, .n_vcpus = m->vm->n_vcpus, .page_size = MIG_PAGE_SIZE };
	uint8_t buf[MIG_HELLO_LEN], mac[MIG_MAC_LEN];
	struct mig_hello_ack ack;
	struct mig_rec rec;
	char err[300];
	int ret;

	if (getrandom(h.nonce, sizeof(h.nonce), 0) != sizeof(h.nonce))
		return mig_fail(m, -EIO, "getrandom: %s", strerror(errno));
	h.cpuid = m->cpuid;
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
	if (ack.v.status < 0)
		return mig_fail(m, ack.v.status, "the destination refused: %s", ack.v.reason);
	if (compute_mac(m->token, "compsc-mig-destination", h.nonce, ack.nonce, mac) < 0)
		return mig_fail(m, -EIO, "HMAC failed");
	if (CRYPTO_memcmp(mac, ack.mac, MIG_MAC_LEN) != 0)
		return mig_fail(m, -EACCES, "authentication failed: the destination does not know the migration token");
	if (compute_mac(m->token, "compsc-mig-source", h.nonce, ack.nonce, mac) < 0)
		return mig_fail(m, -EIO, "HMAC failed");
	if ((ret = mig_send(&m->io, MIG_REC_AUTH, mac, sizeof(mac))) < 0)
		return mig_fail(m, ret, "sending AUTH: %s", strerror(-ret));
	return mig_check_cancel(m);
}

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
	if (getrandom(ack.nonce, sizeof(ack.nonce), 0) != sizeof(ack.nonce) ||
	    compute_mac(m->token, "compsc-mig-destination", h.nonce, ack.nonce, ack.mac) < 0)
		return mig_fail(m, -EIO, "cannot create the handshake");
	/* The CPU check waits for the reservation: after authentication, and
	 * after the accelerator check (another accelerator is the clearer
	 * reason when both differ). */
	m->src_cpuid = h.cpuid;
	ack.v.status = 0;
	int wret = mig_write_preamble(&m->io, MIG_DIR_TO_SOURCE);
	if (wret == 0)
		wret = mig_send(&m->io, MIG_REC_HELLO_ACK, buf, mig_encode_hello_ack(buf, &ack));
	if (wret < 0)
		return mig_fail(m, wret, "sending HELLO_ACK: %s", strerror(-wret));
	if ((ret = mig_recv_expect(m, MIG_REC_AUTH, &rec, "AUTH")) < 0)
		return ret;
	if (compute_mac(m->token, "compsc-mig-source", h.nonce, ack.nonce, mac) < 0)
		return mig_fail(m, -EIO, "HMAC failed");
	if (rec.len != MIG_MAC_LEN || CRYPTO_memcmp(mac, rec.body, MIG_MAC_LEN) != 0) {
		mig_fail(m, -EACCES, "authentication failed: the source does not know the migration token");
		mig_send_verdict(m, MIG_REC_ERROR, -EACCES, "authentication failed");
		return -EACCES;
	}
	return 0;
}
