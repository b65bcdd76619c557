/*
 * Unit tests for the operator commands' output: Go's encoding/json text
 * (cli/gojson), Go's time, duration, %q and grpc-go error texts
 * (cli/output), and protojson-shaped messages (cli/pbjson), each checked
 * against what the Go code prints for the same value.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/gojson.h"
#include "cli/output.h"
#include "cli/pbjson.h"
#include "core/mem.h"

/* Dumps a tree made from JSON text and compares with want. */
static void
dump_is(const char *in, unsigned flags, const char *want)
{
	json_error_t	 je;
	json_t		*v;
	char		*s;

	v = json_loads(in, JSON_DECODE_ANY, &je);
	if (v == NULL)
		fail_msg("bad test input %s: %s", in, je.text);
	s = gojson_dumps(v, flags);
	json_decref(v);
	assert_non_null(s);
	assert_string_equal(s, want);
	mem_free(s);
}

/* Dumps a tree and frees it; the caller frees the string. */
static char *
dump_take(json_t *v, unsigned flags)
{
	char	*s;

	assert_non_null(v);
	s = gojson_dumps(v, flags);
	json_decref(v);
	assert_non_null(s);
	return s;
}

static void
test_gojson_compact_keeps_order(void **state)
{
	dump_is("{\"b\":1,\"a\":[true,false,null],\"c\":{}}", 0,
	    "{\"b\":1,\"a\":[true,false,null],\"c\":{}}");
}

static void
test_gojson_sorted_keys_at_every_level(void **state)
{
	dump_is("{\"b\":{\"z\":1,\"y\":2},\"a\":[{\"d\":1,\"c\":2}]}",
	    GOJSON_SORT_KEYS,
	    "{\"a\":[{\"c\":2,\"d\":1}],\"b\":{\"y\":2,\"z\":1}}");
}

static void
test_gojson_escapes(void **state)
{
	/* Quote, backslash, the short escapes Go uses, other controls. */
	dump_is("\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\"", 0,
	    "\"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u0001\\u001f\"");
	/* Slash and non-ASCII stay; U+2028 and U+2029 never do. */
	dump_is("\"a/b \\u00e9 \\u2028\\u2029\"", 0,
	    "\"a/b \xc3\xa9 \\u2028\\u2029\"");
}

static void
test_gojson_html_safe(void **state)
{
	dump_is("\"<a>&\"", 0, "\"<a>&\"");
	dump_is("\"<a>&\"", GOJSON_HTML_SAFE, "\"\\u003ca\\u003e\\u0026\"");
}

static void
test_gojson_indent_like_json_indent(void **state)
{
	dump_is("{\"keys\":[{\"use\":\"x\",\"x5c\":[\"c\"]}],\"e\":[],"
	    "\"o\":{},\"n\":1}", GOJSON_INDENT,
	    "{\n"
	    "    \"keys\": [\n"
	    "        {\n"
	    "            \"use\": \"x\",\n"
	    "            \"x5c\": [\n"
	    "                \"c\"\n"
	    "            ]\n"
	    "        }\n"
	    "    ],\n"
	    "    \"e\": [],\n"
	    "    \"o\": {},\n"
	    "    \"n\": 1\n"
	    "}");
}

struct float_case {
	double		 v;
	const char	*want;
};

/* strconv.FormatFloat as encoding/json calls it, 'f' or 'e'. */
static const struct float_case float_cases[] = {
	{ 0, "0" },
	{ 1796363132, "1796363132" },
	{ -42, "-42" },
	{ 0.5, "0.5" },
	{ 1.5e-5, "0.000015" },
	{ 1e-6, "0.000001" },
	{ 1e-7, "1e-7" },
	{ 1.25e-10, "1.25e-10" },
	{ 1e20, "100000000000000000000" },
	{ 1e21, "1e+21" },
	{ 123456789.125, "123456789.125" },
	{ 0.1, "0.1" },
	{ 3.0e100, "3e+100" },
};

static void
test_gojson_floats(void **state)
{
	char	buf[64];
	size_t	i;

	for (i = 0; i < sizeof(float_cases) / sizeof(float_cases[0]); i++) {
		assert_true(gojson_format_float(float_cases[i].v, buf,
		    sizeof(buf)) > 0);
		if (strcmp(buf, float_cases[i].want) != 0)
			fail_msg("%.17g: got %s, want %s", float_cases[i].v,
			    buf, float_cases[i].want);
	}
	assert_int_equal(gojson_format_float(1.0 / 0.0, buf, sizeof(buf)),
	    -1);
	assert_int_equal(gojson_format_float(123456.0, buf, 4), -1);
}

struct duration_case {
	int64_t		 ns;
	const char	*want;
};

/* time.Duration.String for each unit and the boundaries between. */
static const struct duration_case duration_cases[] = {
	{ 0, "0s" },
	{ 1, "1ns" },
	{ 999, "999ns" },
	{ 1000, "1\xc2\xb5s" },
	{ 1500, "1.5\xc2\xb5s" },
	{ 2958205, "2.958205ms" },
	{ 2000000, "2ms" },
	{ 999999999, "999.999999ms" },
	{ 1000000000, "1s" },
	{ 1500000000, "1.5s" },
	{ 61000000000LL, "1m1s" },
	{ 3600000000000LL, "1h0m0s" },
	{ 3723500000000LL, "1h2m3.5s" },
	{ -1500000000, "-1.5s" },
};

static void
test_output_duration(void **state)
{
	char	buf[OUTPUT_DURATION_MAX];
	size_t	i;

	for (i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]);
	    i++) {
		assert_true(output_duration(duration_cases[i].ns, buf,
		    sizeof(buf)) > 0);
		if (strcmp(buf, duration_cases[i].want) != 0)
			fail_msg("%lld ns: got %s, want %s",
			    (long long)duration_cases[i].ns, buf,
			    duration_cases[i].want);
	}
	assert_int_equal(output_duration(1500000000, buf, 4), -1);
}

static void
test_output_time(void **state)
{
	char	buf[OUTPUT_TIME_MAX];

	/* time.Unix(1900000000, 0).UTC().String() */
	assert_true(output_time(1900000000, 1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "2030-03-17 17:46:40 +0000 UTC");
	assert_true(output_time_rfc3339(1900000000, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "2030-03-17T17:46:40Z");
	/* Local time with a fixed zone from TZ, as Go reads it. */
	setenv("TZ", "EST5EDT", 1);
	tzset();
	assert_true(output_time(1900000000, 0, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "2030-03-17 13:46:40 -0400 EDT");
	unsetenv("TZ");
	tzset();
	assert_int_equal(output_time(1900000000, 1, buf, 10), -1);
}

static void
test_output_code_names(void **state)
{
	char	buf[24];

	assert_string_equal(output_code_name(0, buf, sizeof(buf)), "OK");
	assert_string_equal(output_code_name(1, buf, sizeof(buf)),
	    "Canceled");
	assert_string_equal(output_code_name(5, buf, sizeof(buf)),
	    "NotFound");
	assert_string_equal(output_code_name(6, buf, sizeof(buf)),
	    "AlreadyExists");
	assert_string_equal(output_code_name(16, buf, sizeof(buf)),
	    "Unauthenticated");
	assert_string_equal(output_code_name(17, buf, sizeof(buf)),
	    "Code(17)");
	assert_string_equal(output_code_name(-1, buf, sizeof(buf)),
	    "Code(-1)");
}

static void
test_output_rpc_error(void **state)
{
	char	buf[OUTPUT_ERROR_MAX];

	output_rpc_error(buf, sizeof(buf), 5, "entry not found");
	assert_string_equal(buf,
	    "rpc error: code = NotFound desc = entry not found");
	output_rpc_error(buf, sizeof(buf), 14, NULL);
	assert_string_equal(buf, "rpc error: code = Unavailable desc = ");
}

/* Quotes s through a memory stream. */
static void
quote_is(const char *s, const char *want)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	output_quote(f, s);
	fclose(f);
	assert_string_equal(buf, want);
	free(buf);
}

static void
test_output_quote(void **state)
{
	quote_is("similar entry already exists",
	    "\"similar entry already exists\"");
	quote_is("a \"b\" \\c", "\"a \\\"b\\\" \\\\c\"");
	quote_is("\n\t\r\a\v\b\f", "\"\\n\\t\\r\\a\\v\\b\\f\"");
	quote_is("\x01\x7f", "\"\\x01\\x7f\"");
	quote_is("\xc3\xa9t\xc3\xa9", "\"\xc3\xa9t\xc3\xa9\"");
	quote_is("bad \xff utf8 \xc3", "\"bad \\xff utf8 \\xc3\"");
}

static void
test_output_format_parse(void **state)
{
	enum output_format	f = OUTPUT_JSON;

	assert_int_equal(output_format_parse(NULL, &f), 0);
	assert_int_equal(f, OUTPUT_PRETTY);
	assert_int_equal(output_format_parse("JSON", &f), 0);
	assert_int_equal(f, OUTPUT_JSON);
	assert_int_equal(output_format_parse("prettyprint", &f), 0);
	assert_int_equal(f, OUTPUT_PRETTY);
	assert_int_equal(output_format_parse("yaml", &f), -1);
	assert_int_equal(output_format_parse("jsonx", &f), -1);
}

/* An entry as spire-server entry show -output json printed it. */
static void
test_pbjson_entry(void **state)
{
	spire_api_types_Selector	 sels[2] = {
		{ "unix", "gid:0" }, { "unix", "uid:1000" },
	};
	char				*dns[1] = { "a.example" };
	spire_api_types_Entry		 e = spire_api_types_Entry_init_zero;
	char				*s;

	e.id = "4b2a111a-83c3-4c31-b273-8d35d7a10889";
	e.has_spiffe_id = e.has_parent_id = true;
	e.spiffe_id.trust_domain = e.parent_id.trust_domain = "example.org";
	e.spiffe_id.path = "/w1";
	e.parent_id.path = "/node1";
	e.selectors = sels;
	e.selectors_count = 2;
	e.dns_names = dns;
	e.dns_names_count = 1;
	e.admin = true;
	e.expires_at = 1900000000;
	e.hint = "hh";
	e.created_at = 1796362811;
	s = dump_take(pbjson_entry(&e), GOJSON_SORT_KEYS | GOJSON_HTML_SAFE);
	assert_string_equal(s, "{\"admin\":true,\"created_at\":\"1796362811\","
	    "\"dns_names\":[\"a.example\"],\"downstream\":false,"
	    "\"expires_at\":\"1900000000\",\"federates_with\":[],"
	    "\"hint\":\"hh\",\"id\":\"4b2a111a-83c3-4c31-b273-8d35d7a10889\","
	    "\"jwt_svid_ttl\":0,\"parent_id\":{\"path\":\"/node1\","
	    "\"trust_domain\":\"example.org\"},\"revision_number\":\"0\","
	    "\"selectors\":[{\"type\":\"unix\",\"value\":\"gid:0\"},"
	    "{\"type\":\"unix\",\"value\":\"uid:1000\"}],"
	    "\"spiffe_id\":{\"path\":\"/w1\",\"trust_domain\":"
	    "\"example.org\"},\"store_svid\":false,\"x509_svid_ttl\":0}");
	mem_free(s);
}

/* An unset submessage is left out; NULL strings print as "". */
static void
test_pbjson_unset_fields(void **state)
{
	spire_api_types_Agent	a = spire_api_types_Agent_init_zero;
	spire_api_types_JoinToken t = spire_api_types_JoinToken_init_zero;
	char			*s;

	s = dump_take(pbjson_agent(&a), GOJSON_SORT_KEYS);
	assert_string_equal(s, "{\"attestation_type\":\"\",\"banned\":false,"
	    "\"can_reattest\":false,\"selectors\":[],"
	    "\"x509svid_expires_at\":\"0\",\"x509svid_serial_number\":\"\"}");
	mem_free(s);
	t.value = "tok";
	t.expires_at = -5;
	s = dump_take(pbjson_join_token(&t), GOJSON_SORT_KEYS);
	assert_string_equal(s, "{\"expires_at\":\"-5\",\"value\":\"tok\"}");
	mem_free(s);
	s = dump_take(pbjson_count(42), 0);
	assert_string_equal(s, "{\"count\":42}");
	mem_free(s);
	s = dump_take(pbjson_empty(), 0);
	assert_string_equal(s, "{}");
	mem_free(s);
}

/* Bytes as standard base64, uint64 as a decimal string. */
static void
test_pbjson_bundle(void **state)
{
	PB_BYTES_ARRAY_T(3)		 der = { 3, { 0x30, 0x01, 0xff } };
	spire_api_types_X509Certificate	 x = { (pb_bytes_array_t *)&der,
					    false };
	spire_api_types_Bundle		 b = spire_api_types_Bundle_init_zero;
	char				*s;

	b.trust_domain = "example.org";
	b.x509_authorities = &x;
	b.x509_authorities_count = 1;
	b.sequence_number = UINT64_MAX;
	s = dump_take(pbjson_bundle(&b), GOJSON_SORT_KEYS);
	assert_string_equal(s, "{\"jwt_authorities\":[],"
	    "\"refresh_hint\":\"0\","
	    "\"sequence_number\":\"18446744073709551615\","
	    "\"trust_domain\":\"example.org\",\"x509_authorities\":"
	    "[{\"asn1\":\"MAH/\",\"tainted\":false}]}");
	mem_free(s);
}

/* Struct claims: numbers as Go floats; nulls dropped for -output json. */
static void
test_pbjson_struct(void **state)
{
	google_protobuf_Value		 aud = google_protobuf_Value_init_zero;
	google_protobuf_ListValue	 list = { 1, &aud };
	google_protobuf_Struct_FieldsEntry f[3];
	google_protobuf_Struct		 st = { 3, f };
	char				*s;

	memset(f, 0, sizeof(f));
	aud.which_kind = google_protobuf_Value_string_value_tag;
	aud.kind.string_value = "foo";
	f[0].key = "sub";
	f[0].has_value = true;
	f[0].value.which_kind = google_protobuf_Value_list_value_tag;
	f[0].value.kind.list_value = &list;
	f[1].key = "exp";
	f[1].has_value = true;
	f[1].value.which_kind = google_protobuf_Value_number_value_tag;
	f[1].value.kind.number_value = 1796363132;
	f[2].key = "n";
	f[2].has_value = true;
	f[2].value.which_kind = google_protobuf_Value_null_value_tag;
	s = dump_take(pbjson_struct(&st, 0), GOJSON_SORT_KEYS);
	assert_string_equal(s, "{\"exp\":1796363132,\"n\":null,"
	    "\"sub\":[\"foo\"]}");
	mem_free(s);
	s = dump_take(pbjson_struct(&st, 1), GOJSON_SORT_KEYS);
	assert_string_equal(s, "{\"exp\":1796363132,\"sub\":[\"foo\"]}");
	mem_free(s);
}

/*
 * Every allocation of a dump and of a message tree may fail: the result
 * is then NULL, never a partial text, and nothing leaks (the sanitizer
 * build checks that).
 */
static void
test_allocation_failures(void **state)
{
	static const char	 want[] = "{\"a\":[1,\"x\",{\"b\":true}]}";
	spire_api_types_Entry	 e = spire_api_types_Entry_init_zero;
	json_error_t		 je;
	json_t			*v, *t;
	char			*s;
	unsigned long		 n;
	int			 ok = 0;

	v = json_loads(want, 0, &je);
	assert_non_null(v);
	for (n = 1; n < 64 && !ok; n++) {
		mem_fail_after(n);
		s = gojson_dumps(v, GOJSON_SORT_KEYS);
		mem_fail_after(0);
		if (s != NULL) {
			assert_string_equal(s, want);
			ok = 1;
		}
		mem_free(s);
	}
	assert_true(ok);
	json_decref(v);
	e.id = "x";
	e.has_spiffe_id = true;
	e.spiffe_id.trust_domain = "td";
	e.spiffe_id.path = "/p";
	for (ok = 0, n = 1; n < 200 && !ok; n++) {
		mem_fail_after(n);
		t = pbjson_entry(&e);
		mem_fail_after(0);
		ok = t != NULL;
		json_decref(t);
	}
	assert_true(ok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gojson_compact_keeps_order),
		cmocka_unit_test(test_gojson_sorted_keys_at_every_level),
		cmocka_unit_test(test_gojson_escapes),
		cmocka_unit_test(test_gojson_html_safe),
		cmocka_unit_test(test_gojson_indent_like_json_indent),
		cmocka_unit_test(test_gojson_floats),
		cmocka_unit_test(test_output_duration),
		cmocka_unit_test(test_output_time),
		cmocka_unit_test(test_output_code_names),
		cmocka_unit_test(test_output_rpc_error),
		cmocka_unit_test(test_output_quote),
		cmocka_unit_test(test_output_format_parse),
		cmocka_unit_test(test_pbjson_entry),
		cmocka_unit_test(test_pbjson_unset_fields),
		cmocka_unit_test(test_pbjson_bundle),
		cmocka_unit_test(test_pbjson_struct),
		cmocka_unit_test(test_allocation_failures),
	};

	json_set_alloc_funcs(mem_alloc, mem_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
