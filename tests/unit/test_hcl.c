/*
 * Unit tests for core/hcl: a table of malformed inputs, each its own
 * named case with the line and message it must give; a table of valid
 * inputs with the tree they give, written as a compact dump; positions,
 * limits and running out of memory.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/hcl.h"
#include "core/limits.h"
#include "core/mem.h"

struct bad {
	const char	*name;
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	enum hcl_status	 status;
	unsigned	 line;
	const char	*msg;		/* a fragment of the message */
};

#define SYN	HCL_SYNTAX
#define LIM	HCL_LIMIT

static const struct bad bad[] = {
	{ "key_without_value", "server\n", 0, SYN, 1,
	    "expected '=' or '{' after key \"server\", found end of file" },
	{ "key_then_number", "a = 1\nbind_port 8081\n", 0, SYN, 2,
	    "expected '=' or '{' after key \"bind_port\", found number 8081" },
	{ "key_then_rbrace", "server {\n  log_level\n}\n", 0, SYN, 2,
	    "expected '=' or '{' after key \"log_level\", found '}'" },
	{ "unclosed_block", "server {\n  a = 1\n", 0, SYN, 1,
	    "block \"server\" is not closed: expected '}', found end of "
	    "file" },
	{ "unclosed_object_value", "x = 1\na = {\n b = 1\n", 0, SYN, 2,
	    "block \"a\" is not closed" },
	{ "stray_rbrace", "a = 1\n}\n", 0, SYN, 2,
	    "unexpected '}' outside any block" },
	{ "missing_key", "= 1", 0, SYN, 1, "expected a key, found '='" },
	{ "key_is_number", "1 = 2", 0, SYN, 1,
	    "expected a key, found number 1" },
	{ "key_is_bool", "true = 1", 0, SYN, 1,
	    "expected a key, found true" },
	{ "labels_then_assign", "a \"b\" = 1", 0, SYN, 1,
	    "expected '{' after block \"a\" \"b\", found '='" },
	{ "missing_assign_before_string", "trust_domain \"x\"\ndata_dir = 1",
	    0, SYN, 1,
	    "expected '{' after block \"trust_domain\" \"x\" ..., found '='" },
	{ "too_many_labels", "a \"1\" \"2\" \"3\" \"4\" \"5\" {}", 0, LIM, 1,
	    "block \"a\" has more than 4 labels" },
	{ "unquoted_value", "log_level = DEBUG", 0, SYN, 1,
	    "expected a value for key \"log_level\", found identifier "
	    "\"DEBUG\" (strings must be quoted)" },
	{ "value_missing", "a = }", 0, SYN, 1,
	    "expected a value after '=' for key \"a\", found '}'" },
	{ "assign_twice", "a = = 1", 0, SYN, 1,
	    "expected a value after '=' for key \"a\", found '='" },
	{ "value_at_eof", "a =", 0, SYN, 1,
	    "expected a value after '=' for key \"a\", found end of file" },
	{ "raw_newline_in_string", "a = \"x\ny\"\n", 0, SYN, 1,
	    "newline in quoted string" },
	{ "unterminated_string", "a = 1\nb = \"abc", 0, SYN, 2,
	    "unterminated string (no closing '\"')" },
	{ "escape_at_eof", "a = \"\\", 0, SYN, 1, "unterminated string" },
	{ "unknown_escape", "a = \"\\q\"", 0, SYN, 1,
	    "unknown escape '\\q' in string" },
	{ "single_quote_escape", "a = \"\\'\"", 0, SYN, 1,
	    "unknown escape '\\'' in string" },
	{ "short_u_escape", "a = \"\\u12\"", 0, SYN, 1,
	    "\\u escape needs 4 hex digits" },
	{ "short_U_escape", "a = \"\\U0001F60\"", 0, SYN, 1,
	    "\\U escape needs 8 hex digits" },
	{ "short_x_escape", "a = \"\\x4\"", 0, SYN, 1,
	    "\\x escape needs 2 hex digits" },
	{ "surrogate_escape", "a = \"\\uD800\"", 0, SYN, 1,
	    "\\uD800 is not a Unicode character" },
	{ "beyond_unicode_escape", "a = \"\\U00110000\"", 0, SYN, 1,
	    "\\U00110000 is not a Unicode character" },
	{ "nul_x_escape", "a = \"\\x00\"", 0, SYN, 1,
	    "NUL character in string" },
	{ "nul_u_escape", "a = \"\\u0000\"", 0, SYN, 1,
	    "NUL character in string" },
	{ "short_octal_escape", "a = \"\\12x\"", 0, SYN, 1,
	    "octal escape needs three digits" },
	{ "big_octal_escape", "a = \"\\400\"", 0, SYN, 1,
	    "octal escape above \\377" },
	{ "unterminated_interpolation", "a = \"${x\"\n", 0, SYN, 1,
	    "unterminated ${ in string" },
	{ "number_two_dots", "a = 1.2.3", 0, SYN, 1,
	    "malformed number \"1.2.3\"" },
	{ "number_with_unit", "ca_ttl = 10s", 0, SYN, 1,
	    "malformed number \"10s\"" },
	{ "number_bad_octal", "a = 09", 0, SYN, 1,
	    "malformed number \"09\"" },
	{ "number_empty_exponent", "a = 1e", 0, SYN, 1,
	    "malformed number \"1e\"" },
	{ "number_bare_hex_prefix", "a = 0x", 0, SYN, 1,
	    "malformed number \"0x\"" },
	{ "number_bad_hex_digit", "a = 0x1g", 0, SYN, 1,
	    "malformed number \"0x1g\"" },
	{ "number_minus_expression", "a = 5-3", 0, SYN, 1,
	    "malformed number \"5-3\"" },
	{ "minus_without_digit", "a = -x", 0, SYN, 1,
	    "expected a digit after '-'" },
	{ "plus_sign", "a = +1", 0, SYN, 1, "unexpected character '+'" },
	{ "lone_dot", "a = .", 0, SYN, 1, "unexpected character '.'" },
	{ "unterminated_block_comment", "a = 1\n/* never\nclosed\n", 0, SYN,
	    2, "unterminated /* comment" },
	{ "single_slash", "a = 1 / 2", 0, SYN, 1,
	    "expected '/' or '*' after '/' to start a comment" },
	{ "list_missing_comma", "a = [1 2]", 0, SYN, 1,
	    "expected ',' or ']' after a list element, found number 2" },
	{ "list_unclosed", "a = [1,\n2,\n", 0, SYN, 1,
	    "list for key \"a\" is not closed: expected ']', found end of "
	    "file" },
	{ "list_unclosed_after_element", "a = [1", 0, SYN, 1,
	    "list for key \"a\" is not closed" },
	{ "list_leading_comma", "a = [,1]", 0, SYN, 1,
	    "expected a list element or ']', found ','" },
	{ "list_double_comma", "a = [1,,2]", 0, SYN, 1,
	    "expected a list element or ']', found ','" },
	{ "list_unquoted_element", "a = [foo]", 0, SYN, 1,
	    "expected a list element or ']', found identifier \"foo\"" },
	{ "nested_list_unclosed", "a = [[1]\n", 0, SYN, 1,
	    "list for key \"a\" is not closed" },
	{ "heredoc_unterminated", "a = <<EOF\nline\n", 0, SYN, 1,
	    "unterminated heredoc: no line \"EOF\" closes it" },
	{ "heredoc_anchor_in_text_only", "a = <<EOF\nnot EOF\n", 0, SYN, 1,
	    "unterminated heredoc" },
	{ "heredoc_no_anchor", "a = <<\nx\n", 0, SYN, 1,
	    "heredoc needs an anchor name after <<" },
	{ "heredoc_anchor_junk", "a = <<EOF x\nEOF\n", 0, SYN, 1,
	    "heredoc anchor \"EOF\" must end its line" },
	{ "heredoc_anchor_at_eof", "a = <<EOF", 0, SYN, 1,
	    "heredoc anchor \"EOF\" must end its line" },
	{ "single_lt", "a = <x", 0, SYN, 1,
	    "unexpected character '<' (a heredoc starts with <<)" },
	{ "illegal_char", "a = 1\n@\n", 0, SYN, 2,
	    "unexpected character '@'" },
	{ "control_char", "a = 1\x01", 0, SYN, 1,
	    "unexpected control character 0x01" },
	{ "nul_byte", "a = 1\n\0", 7, SYN, 2, "NUL byte in the file" },
	{ "invalid_utf8", "a = 1\nb = \"\xff\"", 0, SYN, 2,
	    "invalid UTF-8 byte sequence" },
	{ "overlong_utf8", "a = \"\xc0\xaf\"", 0, SYN, 1,
	    "invalid UTF-8 byte sequence" },
	{ "utf8_surrogate", "a = \"\xed\xa0\x80\"", 0, SYN, 1,
	    "invalid UTF-8 byte sequence" },
	{ "truncated_utf8", "a = 1 # \xe2\x82", 0, SYN, 1,
	    "invalid UTF-8 byte sequence" },
	{ "byte_order_mark", "\xef\xbb\xbf" "a = 1", 0, SYN, 1,
	    "byte order mark" },
	{ "non_ascii_key", "caf\xc3\xa9 = 1", 0, SYN, 1,
	    "unexpected non-ASCII character" },
	{ "nested_too_deep",
	    "a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{}}}}}}}}}}}}}}}}}", 0, LIM, 1,
	    "blocks and lists nested deeper than 16 levels" },
	{ "lists_nested_too_deep",
	    "a = [[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", 0, LIM, 1,
	    "nested deeper than 16 levels" },
	{ "error_line_after_heredoc", "a = <<EOF\nx\ny\nEOF\n@", 0, SYN, 5,
	    "unexpected character '@'" },
	{ "error_line_after_block_comment", "/*\n\n*/ a = 1\n\n@", 0, SYN, 5,
	    "unexpected character '@'" },
	{ "error_line_after_interpolation", "a = \"${\n}\"\n@", 0, SYN, 3,
	    "unexpected character '@'" },
};

static void
test_bad_row(void **state)
{
	const struct bad	*b = *state;
	struct hcl_doc		*doc = (struct hcl_doc *)0x1;
	struct hcl_error	 err;
	enum hcl_status		 st;
	size_t			 len = b->len != 0 ? b->len : strlen(b->in);

	st = hcl_parse(b->in, len, &doc, &err);
	if (st != b->status || err.line != b->line ||
	    strstr(err.msg, b->msg) == NULL)
		print_error("%s: got status %d line %u \"%s\"\n", b->name,
		    (int)st, err.line, err.msg);
	assert_int_equal(st, b->status);
	assert_null(doc);
	assert_int_equal(err.line, b->line);
	assert_non_null(strstr(err.msg, b->msg));
}

struct dump {
	char	 s[4096];
	size_t	 n;
};

static void
dump_add(struct dump *d, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(d->s + d->n, sizeof(d->s) - d->n, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(d->s) - d->n);
	d->n += (size_t)n;
}

static void
dump_text(struct dump *d, const char *s, size_t len)
{
	size_t	 i;

	dump_add(d, "\"");
	for (i = 0; i < len; i++) {
		if (s[i] == '\n')
			dump_add(d, "\\n");
		else if (s[i] == '\t')
			dump_add(d, "\\t");
		else if (s[i] == '\r')
			dump_add(d, "\\r");
		else if (s[i] == '"' || s[i] == '\\')
			dump_add(d, "\\%c", s[i]);
		else
			dump_add(d, "%c", s[i]);
	}
	dump_add(d, "\"");
}

/*
 * {k=v;k "label"=v}, [v,v], "string", h"heredoc", n:int, f:float,
 * b:bool.
 */
static void
dump_node(struct dump *d, const struct hcl_node *n)
{
	const struct hcl_item	*it;
	const struct hcl_node	*e;
	size_t			 i;

	switch (n->kind) {
	case HCL_OBJECT:
		dump_add(d, "{");
		for (it = n->items; it != NULL; it = it->next) {
			dump_add(d, "%s%s", it == n->items ? "" : ";", it->key);
			for (i = 0; i < it->nlabels; i++)
				dump_add(d, " \"%s\"", it->labels[i]);
			dump_add(d, "=");
			dump_node(d, it->value);
		}
		dump_add(d, "}");
		break;
	case HCL_LIST:
		dump_add(d, "[");
		for (e = n->elems; e != NULL; e = e->next) {
			dump_add(d, "%s", e == n->elems ? "" : ",");
			dump_node(d, e);
		}
		dump_add(d, "]");
		break;
	case HCL_STRING:
		dump_text(d, n->text, n->len);
		break;
	case HCL_HEREDOC:
		dump_add(d, "h");
		dump_text(d, n->text, n->len);
		break;
	case HCL_NUMBER:
		dump_add(d, "n:%s", n->text);
		break;
	case HCL_FLOAT:
		dump_add(d, "f:%s", n->text);
		break;
	case HCL_BOOL:
		dump_add(d, "b:%s", n->text);
		break;
	}
}

struct good {
	const char	*name;
	const char	*in;
	const char	*tree;
};

static const struct good good[] = {
	{ "empty_file", "", "{}" },
	{ "only_comments", "# a\n// b\n/* c\n d */\n", "{}" },
	{ "string_attribute", "a = \"x\"", "{a=\"x\"}" },
	{ "quoted_number_stays_string", "bind_port = \"8081\"",
	    "{bind_port=\"8081\"}" },
	{ "bare_number", "bind_port = 8081", "{bind_port=n:8081}" },
	{ "signed_and_float_numbers",
	    "a = -5\nb = 1.5\nc = 1e3\nd = -2.5E-3\ne = .5\nf = 1.",
	    "{a=n:-5;b=f:1.5;c=f:1e3;d=f:-2.5E-3;e=f:.5;f=f:1.}" },
	{ "hex_and_octal", "a = 0x1F\nb = 0755\nc = 0\nd = 08.5",
	    "{a=n:0x1F;b=n:0755;c=n:0;d=f:08.5}" },
	{ "bools", "a = true\nb = false", "{a=b:true;b=b:false}" },
	{ "block", "server { a = 1 }", "{server={a=n:1}}" },
	{ "labelled_block",
	    "NodeAttestor \"join_token\" { plugin_data {} }",
	    "{NodeAttestor \"join_token\"={plugin_data={}}}" },
	{ "several_labels_quoted_or_not", "a \"b\" c {}",
	    "{a \"b\" \"c\"={}}" },
	{ "object_value", "ratelimit = { attestation = true }",
	    "{ratelimit={attestation=b:true}}" },
	{ "empty_object_value", "plugin_data = {}", "{plugin_data={}}" },
	{ "repeated_blocks", "f \"a\" {}\nf \"b\" {}",
	    "{f \"a\"={};f \"b\"={}}" },
	{ "duplicate_keys_kept", "a = 1\na = 2", "{a=n:1;a=n:2}" },
	{ "list_trailing_comma", "a = [\"x\", \"y\",]", "{a=[\"x\",\"y\"]}" },
	{ "list_mixed_and_nested",
	    "a = [1, \"b\", true, 2.5, [2, [3]], {c = 4}, <<X\nh\nX\n]",
	    "{a=[n:1,\"b\",b:true,f:2.5,[n:2,[n:3]],{c=n:4},h\"h\\n\"]}" },
	{ "empty_list", "a = []", "{a=[]}" },
	{ "list_with_comments", "a = [\n # c\n \"x\", // d\n /* e */ \"y\"\n]",
	    "{a=[\"x\",\"y\"]}" },
	{ "simple_escapes", "a = \"\\\" \\\\ \\n \\t \\r\"",
	    "{a=\"\\\" \\\\ \\n \\t \\r\"}" },
	{ "numeric_escapes", "a = \"\\u00e9\\U0001F600\\x41\\101\"",
	    "{a=\"\xc3\xa9\xf0\x9f\x98\x80" "AA\"}" },
	{ "utf8_in_string", "a = \"caf\xc3\xa9\"", "{a=\"caf\xc3\xa9\"}" },
	{ "tab_in_string", "a = \"x\ty\"", "{a=\"x\\ty\"}" },
	{ "interpolation_kept", "a = \"${FOO}\"", "{a=\"${FOO}\"}" },
	{ "interpolation_with_quotes", "a = \"${f(\"y\")} z\"",
	    "{a=\"${f(\\\"y\\\")} z\"}" },
	{ "dollar_alone", "a = \"$ and $x\"", "{a=\"$ and $x\"}" },
	{ "heredoc", "a = <<EOF\nhello\n  world\nEOF\n",
	    "{a=h\"hello\\n  world\\n\"}" },
	{ "heredoc_indented", "a = <<-EOT\n    one\n      two\n    EOT\n",
	    "{a=h\"one\\n  two\\n\"}" },
	{ "heredoc_indented_uneven", "a = <<-EOT\n  one\nzero\n  EOT\n",
	    "{a=h\"  one\\nzero\\n\"}" },
	{ "heredoc_plain_indented_end", "a = <<EOF\n  x\n  EOF\nb = 1",
	    "{a=h\"  x\\n\";b=n:1}" },
	{ "heredoc_empty", "a = <<EOF\nEOF\n", "{a=h\"\"}" },
	{ "heredoc_crlf", "a = <<EOF\r\nx\r\nEOF\r\n", "{a=h\"x\\r\\n\"}" },
	{ "heredoc_end_at_eof", "a = <<EOF\nx\nEOF", "{a=h\"x\\n\"}" },
	{ "heredoc_keeps_escapes", "a = <<EOF\n\\n \"q\"\nEOF\n",
	    "{a=h\"\\\\n \\\"q\\\"\\n\"}" },
	{ "commas_between_items", "a = 1, b = 2", "{a=n:1;b=n:2}" },
	{ "quoted_key", "\"my key\" = 1", "{my key=n:1}" },
	{ "identifier_chars", "a.b-c_d9 = 1", "{a.b-c_d9=n:1}" },
	{ "newlines_optional", "a = 1 b = 2 c { d = 3 }",
	    "{a=n:1;b=n:2;c={d=n:3}}" },
	{ "crlf_lines", "a = 1\r\nb = \"x\"\r\n", "{a=n:1;b=\"x\"}" },
	{ "comment_after_value", "a = 1 # one\nb = 2 // two\nc = 3 /* 3 */",
	    "{a=n:1;b=n:2;c=n:3}" },
	{ "nested_16_levels",
	    "a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{a{}}}}}}}}}}}}}}}}",
	    "{a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={a={}"
	    "}}}}}}}}}}}}}}}}" },
	{ "spire_join_token_server",
	    "server {\n\tbind_address = \"0.0.0.0\"\n\tbind_port = \"8081\"\n"
	    "\ttrust_domain = \"domain.test\"\n"
	    "\tdata_dir = \"/opt/spire/data/server\"\n"
	    "\tlog_level = \"DEBUG\"\n}\n\nplugins {\n"
	    "\tDataStore \"sql\" {\n\t\tplugin_data {\n"
	    "\t\t\tdatabase_type = \"sqlite3\"\n\t\t}\n\t}\n"
	    "\tNodeAttestor \"join_token\" {\n\t\tplugin_data {\n"
	    "        }\n\t}\n\tKeyManager \"memory\" {\n"
	    "\t\tplugin_data = {}\n\t}\n}\n",
	    "{server={bind_address=\"0.0.0.0\";bind_port=\"8081\";"
	    "trust_domain=\"domain.test\";data_dir=\"/opt/spire/data/server\";"
	    "log_level=\"DEBUG\"};plugins={DataStore \"sql\"={plugin_data="
	    "{database_type=\"sqlite3\"}};NodeAttestor \"join_token\"="
	    "{plugin_data={}};KeyManager \"memory\"={plugin_data={}}}}" },
};

static void
test_good_row(void **state)
{
	const struct good	*g = *state;
	struct hcl_doc		*doc;
	struct hcl_error	 err;
	struct dump		 d;
	enum hcl_status		 st;

	st = hcl_parse(g->in, strlen(g->in), &doc, &err);
	if (st != HCL_OK)
		print_error("%s: %u: %s\n", g->name, err.line, err.msg);
	assert_int_equal(st, HCL_OK);
	memset(&d, 0, sizeof(d));
	dump_node(&d, hcl_doc_root(doc));
	if (strcmp(d.s, g->tree) != 0)
		print_error("%s:\n got  %s\n want %s\n", g->name, d.s, g->tree);
	assert_string_equal(d.s, g->tree);
	hcl_doc_free(doc);
}

static void
test_positions(void **state)
{
	static const char	 in[] =
	    "# comment\n"
	    "server {\n"
	    "    bind_port = 8081\n"
	    "    admin_ids = [\n"
	    "        \"a\",\n"
	    "\t\"b\" ]\n"
	    "}\n";
	const struct hcl_node	*root, *list;
	const struct hcl_item	*srv, *port, *ids;
	struct hcl_doc		*doc;

	(void)state;
	assert_int_equal(hcl_parse(in, strlen(in), &doc, NULL), HCL_OK);
	root = hcl_doc_root(doc);
	assert_int_equal(root->line, 0);
	srv = hcl_object_find(root, "server");
	assert_non_null(srv);
	assert_int_equal(srv->line, 2);
	assert_int_equal(srv->col, 1);
	assert_int_equal(srv->value->line, 2);
	assert_int_equal(srv->value->col, 8);
	port = hcl_object_find(srv->value, "bind_port");
	assert_int_equal(port->line, 3);
	assert_int_equal(port->col, 5);
	assert_int_equal(port->value->col, 17);
	ids = hcl_object_find(srv->value, "admin_ids");
	list = ids->value;
	assert_int_equal(list->kind, HCL_LIST);
	assert_int_equal(list->count, 2);
	assert_int_equal(list->elems->line, 5);
	assert_int_equal(list->elems->col, 9);
	assert_int_equal(list->elems->next->line, 6);
	assert_int_equal(list->elems->next->col, 2);
	assert_null(list->elems->next->next);
	hcl_doc_free(doc);
}

static void
test_find_ignores_case(void **state)
{
	static const char	 in[] = "Bind_Port = 1\nx = 2\nbind_port = 3\n";
	const struct hcl_item	*it;
	struct hcl_doc		*doc;

	(void)state;
	assert_int_equal(hcl_parse(in, strlen(in), &doc, NULL), HCL_OK);
	it = hcl_object_find(hcl_doc_root(doc), "bind_port");
	assert_non_null(it);
	assert_string_equal(it->value->text, "1");
	it = hcl_item_next_same(it);
	assert_non_null(it);
	assert_string_equal(it->value->text, "3");
	assert_null(hcl_item_next_same(it));
	assert_null(hcl_object_find(hcl_doc_root(doc), "missing"));
	assert_null(hcl_object_find(it->value, "x"));
	hcl_doc_free(doc);
}

/* Fills a heap buffer with prefix, n copies of unit and suffix. */
static char *
repeat(const char *prefix, const char *unit, size_t n, const char *suffix,
    size_t *lenp)
{
	size_t	 lp = strlen(prefix), lu = strlen(unit), ls = strlen(suffix);
	size_t	 i, len = lp + n * lu + ls;
	char	*s;

	s = malloc(len + 1);
	assert_non_null(s);
	memcpy(s, prefix, lp);
	for (i = 0; i < n; i++)
		memcpy(s + lp + i * lu, unit, lu);
	memcpy(s + lp + n * lu, suffix, ls + 1);
	*lenp = len;
	return s;
}

static void
expect_limit(const char *s, size_t len, const char *msg)
{
	struct hcl_doc		*doc;
	struct hcl_error	 err;

	assert_int_equal(hcl_parse(s, len, &doc, &err), HCL_LIMIT);
	assert_null(doc);
	if (strstr(err.msg, msg) == NULL)
		print_error("got \"%s\", want \"%s\"\n", err.msg, msg);
	assert_non_null(strstr(err.msg, msg));
}

static void
expect_ok(const char *s, size_t len)
{
	struct hcl_doc	*doc;

	assert_int_equal(hcl_parse(s, len, &doc, NULL), HCL_OK);
	hcl_doc_free(doc);
}

/* The text repeat makes of the arguments parses. */
static void
repeat_ok(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	char	*s;
	size_t	 len;

	s = repeat(prefix, unit, n, suffix, &len);
	expect_ok(s, len);
	free(s);
}

/* The text repeat makes fails at a limit, msg in the message. */
static void
repeat_limit(const char *prefix, const char *unit, size_t n,
    const char *suffix, const char *msg)
{
	char	*s;
	size_t	 len;

	s = repeat(prefix, unit, n, suffix, &len);
	expect_limit(s, len, msg);
	free(s);
}

static void
test_list_limit(void **state)
{
	(void)state;
	repeat_ok("a = [", "1,", CONFIG_LIST_MAX, "]");
	repeat_limit("a = [", "1,", CONFIG_LIST_MAX + 1, "]",
	    "list longer than 1024 elements");
}

static void
test_string_limit(void **state)
{
	(void)state;
	repeat_ok("a = \"", "x", CONFIG_STRING_MAX, "\"");
	repeat_limit("a = \"", "x", CONFIG_STRING_MAX + 1, "\"",
	    "string longer than 65536 bytes");
	repeat_limit("a = <<E\n", "x", CONFIG_STRING_MAX, "\nE\n",
	    "heredoc longer than 65536 bytes");
}

static void
test_file_limit(void **state)
{
	(void)state;
	repeat_limit("", " ", CONFIG_FILE_MAX + 1, "",
	    "file larger than 1048576 bytes");
}

static void
test_item_and_node_limits(void **state)
{
	(void)state;
	repeat_limit("b {", "a=1 ", CONFIG_ITEMS_MAX + 1, "}",
	    "more than 4096 keys in one block");
	/* 65 lists of 1000 numbers pass the total, not any one list. */
	repeat_limit("", "a=[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	    "1,1,1,1,1,1,1,1]\n", CONFIG_NODES_MAX / 64 + 1, "",
	    "more than 65536 keys and values in the file");
}

static void
test_key_and_anchor_limits(void **state)
{
	(void)state;
	repeat_limit("", "k", CONFIG_KEY_MAX + 1, " = 1",
	    "identifier longer than 256 bytes");
	repeat_limit("a = <<", "E", CONFIG_HEREDOC_TAG_MAX + 1, "\nx\n",
	    "heredoc anchor longer than 64 bytes");
}

static void
test_out_of_memory(void **state)
{
	static const char	 in[] =
	    "server {\n  a = \"x\"\n  l = [1, \"two\", {b = 3}]\n}\n"
	    "plugins { K \"n\" { plugin_data { h = <<E\ntext\nE\n } } }\n";
	struct hcl_doc		*doc;
	struct hcl_error	 err;
	enum hcl_status		 st;
	unsigned long		 n;

	(void)state;
	for (n = 1; ; n++) {
		mem_fail_after(n);
		st = hcl_parse(in, strlen(in), &doc, &err);
		mem_fail_after(0);
		if (st == HCL_OK)
			break;
		assert_int_equal(st, HCL_NOMEM);
		assert_null(doc);
		assert_string_equal(err.msg, "out of memory");
		assert_true(n < 100);
	}
	assert_true(n > 2);
	hcl_doc_free(doc);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(hcl_strerror(HCL_SYNTAX), "syntax error");
	assert_string_equal(hcl_strerror(HCL_LIMIT), "limit exceeded");
	assert_string_equal(hcl_kind_name(HCL_OBJECT), "block");
	assert_string_equal(hcl_kind_name(HCL_FLOAT), "number");
}

int
main(void)
{
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_find_ignores_case),
		cmocka_unit_test(test_list_limit),
		cmocka_unit_test(test_string_limit),
		cmocka_unit_test(test_file_limit),
		cmocka_unit_test(test_item_and_node_limits),
		cmocka_unit_test(test_key_and_anchor_limits),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_strerror),
	};
	const size_t		 nbad = sizeof(bad) / sizeof(bad[0]);
	const size_t		 ngood = sizeof(good) / sizeof(good[0]);
	struct CMUnitTest	*rows;
	size_t			 i;
	int			 failed;

	/* Each table row runs as its own named case. */
	rows = calloc(nbad + ngood, sizeof(*rows));
	if (rows == NULL)
		return 1;
	for (i = 0; i < nbad; i++) {
		rows[i].name = bad[i].name;
		rows[i].test_func = test_bad_row;
		rows[i].initial_state = (void *)(uintptr_t)&bad[i];
	}
	for (i = 0; i < ngood; i++) {
		rows[nbad + i].name = good[i].name;
		rows[nbad + i].test_func = test_good_row;
		rows[nbad + i].initial_state = (void *)(uintptr_t)&good[i];
	}
	failed = cmocka_run_group_tests_name("hcl", fixed, NULL, NULL);
	failed += _cmocka_run_group_tests("hcl_malformed", rows, nbad, NULL,
	    NULL);
	failed += _cmocka_run_group_tests("hcl_valid", rows + nbad, ngood,
	    NULL, NULL);
	free(rows);
	return failed;
}
