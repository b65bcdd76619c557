/*
 * The pure parts of nesting (server/nested.h): CA activation under a
 * parent that caps lifetimes, chain ends, the downstream CA subject,
 * the offline budget and the retry delay.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/mem.h"
#include "pki/cert.h"
#include "pki/der.h"
#include "pki/x509.h"
#include "server/ca.h"
#include "server/nested.h"

#define NESTED_BACKDATE_SEC	10	/* NotBefore set back, as SPIRE */

/* The attributes Go's pkix.Name keeps, in the order it writes them. */
enum name_attr {
	NA_COUNTRY,
	NA_PROVINCE,
	NA_LOCALITY,
	NA_STREET,
	NA_POSTAL,
	NA_ORG,
	NA_ORG_UNIT,
	NA_COMMON_NAME,		/* single-valued: the last one read */
	NA_SERIAL,		/* single-valued */
	NA_COUNT,
};

/* 2.5.4.x: the last arc of each attribute type's OID. */
static const uint8_t name_arcs[NA_COUNT] = {
	6, 8, 7, 9, 17, 10, 11, 3, 5,
};

struct name_val {
	const uint8_t	*p;
	size_t		 len;
};

struct name_parsed {
	struct name_val	 v[NA_COUNT][SERVER_NAME_VALUES_MAX];
	size_t		 n[NA_COUNT];
};

static int	name_parse(const uint8_t *, size_t, struct name_parsed *);
static int	name_string_ok(int tag);
static int	name_printable(const uint8_t *, size_t);
static void	name_write(struct der_w *, enum name_attr,
		    const struct name_val *, size_t);

enum nested_choice
nested_activation(int64_t now, int64_t act_nb, int64_t act_na,
    int64_t prep_na, int64_t need)
{
	int64_t	at;

	if (prep_na <= now)
		return NESTED_DISCARD;
	if (act_na <= now)
		return NESTED_ACTIVATE;
	if (prep_na <= act_na)
		return NESTED_DISCARD;
	at = ca_activate_at(act_nb, act_na);
	if (at < now)
		at = now;
	/*
	 * The active CA gives up once it cannot cover a whole SVID, which
	 * may be before its activation point when the parent cut it short.
	 */
	if (act_na - now < need && now < at)
		at = now;
	if (prep_na - at < need)
		return NESTED_DISCARD;
	return at <= now ? NESTED_ACTIVATE : NESTED_WAIT;
}

int64_t
nested_chain_end(const struct x509_cert *chain, size_t n,
    const struct x509_cert *roots, size_t nroots)
{
	const struct x509_cert	*top;
	int64_t			 end, root_end = 0;
	size_t			 i;

	if (n == 0)
		return 0;
	end = chain[0].not_after;
	for (i = 1; i < n; i++)
		if (chain[i].not_after < end)
			end = chain[i].not_after;
	top = &chain[n - 1];
	for (i = 0; i < nroots; i++) {
		if (roots[i].subject.len != top->issuer.len ||
		    memcmp(roots[i].subject.p, top->issuer.p,
		    top->issuer.len) != 0 ||
		    x509_check_signature(top, &roots[i]) != X509_OK)
			continue;
		/* Several roots may share a key (a re-issued root). */
		if (roots[i].not_after > root_end)
			root_end = roots[i].not_after;
	}
	if (root_end != 0 && root_end < end)
		end = root_end;
	return end;
}

/* The string types Go's Name parsing takes as text. */
static int
name_string_ok(int tag)
{
	return tag == DER_PRINTABLE_STRING || tag == DER_UTF8_STRING ||
	    tag == DER_IA5_STRING || tag == DER_T61_STRING ||
	    tag == 0x12;	/* NumericString */
}

/* Go writes PrintableString when every byte allows it, else UTF8. */
static int
name_printable(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') ||
		    (p[i] != '\0' && strchr(" '()+,-./:=?*", p[i]) != NULL)))
			return 0;
	return 1;
}

static int
name_parse(const uint8_t *name, size_t len, struct name_parsed *out)
{
	static const uint8_t	 prefix[] = { 0x55, 0x04 };	/* 2.5.4 */
	struct der		 d, seq, set, atv, oid, val;
	enum name_attr		 a;
	int			 tag;

	memset(out, 0, sizeof(*out));
	der_init(&d, name, len);
	if (der_get(&d, DER_SEQUENCE, &seq, NULL) == -1 || !der_empty(&d))
		return -1;
	while (!der_empty(&seq)) {
		if (der_get(&seq, DER_SET, &set, NULL) == -1)
			return -1;
		while (!der_empty(&set)) {
			if (der_get(&set, DER_SEQUENCE, &atv, NULL) == -1 ||
			    der_get(&atv, DER_OID, &oid, NULL) == -1 ||
			    der_get_any(&atv, &tag, &val, NULL) == -1 ||
			    !der_empty(&atv))
				return -1;
			if (oid.len != 3 || memcmp(oid.p, prefix, 2) != 0 ||
			    !name_string_ok(tag))
				continue;
			for (a = 0; a < NA_COUNT; a++)
				if (name_arcs[a] == oid.p[2])
					break;
			if (a == NA_COUNT)
				continue;
			if (a == NA_COMMON_NAME || a == NA_SERIAL)
				out->n[a] = 0;
			if (out->n[a] == SERVER_NAME_VALUES_MAX)
				return -1;
			out->v[a][out->n[a]].p = val.p;
			out->v[a][out->n[a]].len = val.len;
			out->n[a]++;
		}
	}
	return 0;
}

/* One RDN holding every value of one attribute type, as Go writes it. */
static void
name_write(struct der_w *w, enum name_attr a, const struct name_val *v,
    size_t n)
{
	uint8_t	 oid[3] = { 0x55, 0x04, 0 };
	size_t	 i;

	if (n == 0)
		return;
	oid[2] = name_arcs[a];
	der_w_begin(w, DER_SET);
	for (i = 0; i < n; i++) {
		der_w_begin(w, DER_SEQUENCE);
		der_w_tlv(w, DER_OID, oid, sizeof(oid));
		der_w_tlv(w, name_printable(v[i].p, v[i].len) ?
		    DER_PRINTABLE_STRING : DER_UTF8_STRING, v[i].p, v[i].len);
		der_w_end(w);
	}
	der_w_end(w);
}

int
nested_downstream_subject(const uint8_t *name, size_t len, size_t chain_len,
    uint8_t **out, size_t *outlen)
{
	struct name_parsed	 np;
	struct der_w		 w;
	char			 ou[32];
	enum name_attr		 a;

	*out = NULL;
	*outlen = 0;
	if (name_parse(name, len, &np) == -1)
		return -1;
	snprintf(ou, sizeof(ou), "DOWNSTREAM-%zu", chain_len);
	np.v[NA_ORG_UNIT][0].p = (const uint8_t *)ou;
	np.v[NA_ORG_UNIT][0].len = strlen(ou);
	np.n[NA_ORG_UNIT] = 1;
	der_w_init(&w, CERT_DER_MAX);
	der_w_begin(&w, DER_SEQUENCE);
	for (a = 0; a < NA_COUNT; a++)
		name_write(&w, a, np.v[a], np.n[a]);
	der_w_end(&w);
	return der_w_finish(&w, out, outlen);
}

int
nested_downstream_template(const struct x509_cert *ca, size_t chain_len,
    int64_t ca_end, const uint8_t *spki, size_t spki_len, int64_t now,
    int64_t ttl, const char *td_id, struct cert_template *t,
    uint8_t **subject)
{
	size_t	 subj_len;

	*subject = NULL;
	memset(t, 0, sizeof(*t));
	if (ca_end <= now || ttl <= 0)
		return -1;
	if (nested_downstream_subject(ca->subject.p, ca->subject.len,
	    chain_len, subject, &subj_len) == -1)
		return -1;
	if (cert_random_serial(t) == -1) {
		mem_free(*subject);
		*subject = NULL;
		return -1;
	}
	t->subject = *subject;
	t->subject_len = subj_len;
	t->not_before = (time_t)(now - NESTED_BACKDATE_SEC);
	t->not_after = (time_t)(now + ttl < ca_end ? now + ttl : ca_end);
	t->is_ca = 1;
	t->key_usage = CERT_KU_KEY_CERT_SIGN | CERT_KU_CRL_SIGN;
	t->uri = td_id;
	t->spki = spki;
	t->spki_len = spki_len;
	return 0;
}

int64_t
nested_budget(int64_t now, int64_t act_na, int64_t prep_na, int prep_usable)
{
	int64_t	end = act_na;

	if (prep_usable && prep_na > end)
		end = prep_na;
	return end > now ? end - now : 0;
}

int64_t
nested_retry_delay(int64_t prev, int64_t left)
{
	int64_t	d;

	d = prev <= 0 ? SERVER_UPSTREAM_RETRY_MIN_SEC : prev * 2;
	if (d > SERVER_UPSTREAM_RETRY_MAX_SEC)
		d = SERVER_UPSTREAM_RETRY_MAX_SEC;
	if (left > 0 && d > left / 10)
		d = left / 10;
	if (d < SERVER_UPSTREAM_RETRY_MIN_SEC)
		d = SERVER_UPSTREAM_RETRY_MIN_SEC;
	return d;
}
