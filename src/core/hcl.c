/*
 * HCL v1: a hand-written lexer and a recursive-descent parser that build
 * the tree in an arena owned by the document, so a failed parse or
 * hcl_doc_free releases everything at once.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/hcl.h"
#include "core/limits.h"
#include "core/mem.h"

/* Bytes asked of mem_alloc at a time; larger requests get their own. */
#define ARENA_CHUNK	(16 * 1024)
/* Bytes of an offending token quoted in an error message. */
#define QUOTE_MAX	40

struct chunk {
	struct chunk	*next;
	size_t		 used;		/* bytes handed out */
	size_t		 size;		/* bytes after the header */
};

struct hcl_doc {
	struct chunk	*chunks;	/* newest first */
	struct hcl_node	*root;
};

enum tok {
	T_EOF,
	T_IDENT,
	T_STRING,
	T_HEREDOC,
	T_NUMBER,
	T_FLOAT,
	T_BOOL,
	T_LBRACE,
	T_RBRACE,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_ASSIGN,
};

struct token {
	enum tok	 type;
	unsigned	 line;
	unsigned	 col;
	char		*text;		/* in the arena; NULL for punctuation */
	size_t		 len;
};

struct parser {
	const char	*p;		/* next byte to read */
	const char	*end;
	const char	*bol;		/* first byte of the current line */
	unsigned	 line;
	unsigned	 tline;		/* where the current token started */
	unsigned	 tcol;
	struct hcl_doc	*doc;
	struct hcl_error *err;
	enum hcl_status	 status;	/* the first failure */
	size_t		 nodes;		/* items and values made so far */
	char		*scratch;	/* a string being decoded */
	size_t		 slen;
	struct token	 ahead;		/* one token of look-ahead */
	int		 have_ahead;
};

static int	fail(struct parser *, enum hcl_status, unsigned, unsigned,
		    const char *, ...) __attribute__((format(printf, 5, 6)));
static int	nomem(struct parser *);
static unsigned	cur_col(const struct parser *);
static void	newline(struct parser *);
static int	is_ident_start(int);
static int	is_ident(int);
static int	is_digit(int);
static int	is_hex(int);
static int	hex_value(int);
static char	*doc_strndup(struct parser *, const char *, size_t);
static int	check_text(struct parser *);
static int	lex_space(struct parser *);
static int	lex_next(struct parser *, struct token *);
static int	lex_ident(struct parser *, struct token *);
static int	lex_number(struct parser *, struct token *);
static int	lex_string(struct parser *, struct token *);
static int	lex_interp(struct parser *);
static int	lex_escape(struct parser *);
static int	lex_heredoc(struct parser *, struct token *);
static int	put(struct parser *, int);
static int	put_utf8(struct parser *, uint32_t);
static int	next(struct parser *, struct token *);
static int	peek(struct parser *, const struct token **);
static void	describe(const struct token *, char *, size_t);
static struct hcl_node *node_new(struct parser *, enum hcl_kind,
		    const struct token *);
static struct hcl_item *item_new(struct parser *, const struct token *);
static int	parse_body(struct parser *, struct hcl_node *, unsigned,
		    const struct token *, const char *);
static int	parse_value(struct parser *, const struct token *, unsigned,
		    const char *, struct hcl_node **);
static int	parse_list(struct parser *, struct hcl_node *, unsigned,
		    const struct token *, const char *);

static const char *const kind_names[] = {
	[HCL_OBJECT] = "block",
	[HCL_LIST] = "list",
	[HCL_STRING] = "string",
	[HCL_HEREDOC] = "heredoc",
	[HCL_NUMBER] = "number",
	[HCL_FLOAT] = "number",
	[HCL_BOOL] = "bool",
};

const char *
hcl_kind_name(enum hcl_kind k)
{
	if ((unsigned)k >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "value";
	return kind_names[k];
}

const char *
hcl_strerror(enum hcl_status s)
{
	switch (s) {
	case HCL_OK:
		return "ok";
	case HCL_SYNTAX:
		return "syntax error";
	case HCL_LIMIT:
		return "limit exceeded";
	case HCL_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

void *
hcl_doc_alloc(struct hcl_doc *doc, size_t n)
{
	const size_t	 a = _Alignof(max_align_t);
	const size_t	 hdr = (sizeof(struct chunk) + a - 1) & ~(a - 1);
	struct chunk	*c;
	size_t		 size;
	char		*p;

	if (n > SIZE_MAX - hdr - a)
		return NULL;
	n = n == 0 ? a : (n + a - 1) & ~(a - 1);
	c = doc->chunks;
	if (c == NULL || c->size - c->used < n) {
		size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = mem_alloc(hdr + size);
		if (c == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = doc->chunks;
		doc->chunks = c;
	}
	p = (char *)c + hdr + c->used;
	c->used += n;
	return p;
}

void
hcl_doc_free(struct hcl_doc *doc)
{
	struct chunk	*c, *next_chunk;

	if (doc == NULL)
		return;
	for (c = doc->chunks; c != NULL; c = next_chunk) {
		next_chunk = c->next;
		mem_free(c);
	}
	mem_free(doc);
}

const struct hcl_node *
hcl_doc_root(const struct hcl_doc *doc)
{
	return doc->root;
}

const struct hcl_item *
hcl_object_find(const struct hcl_node *obj, const char *key)
{
	const struct hcl_item	*it;

	if (obj == NULL || obj->kind != HCL_OBJECT)
		return NULL;
	for (it = obj->items; it != NULL; it = it->next) {
		if (strcasecmp(it->key, key) == 0)
			return it;
	}
	return NULL;
}

const struct hcl_item *
hcl_item_next_same(const struct hcl_item *item)
{
	const struct hcl_item	*it;

	for (it = item->next; it != NULL; it = it->next) {
		if (strcasecmp(it->key, item->key) == 0)
			return it;
	}
	return NULL;
}

enum hcl_status
hcl_parse(const char *text, size_t len, struct hcl_doc **docp,
    struct hcl_error *err)
{
	struct hcl_error	 spare;
	struct parser		 ps;
	struct token		 start;

	*docp = NULL;
	if (err == NULL)
		err = &spare;
	memset(err, 0, sizeof(*err));
	memset(&ps, 0, sizeof(ps));
	ps.p = ps.bol = text;
	ps.end = text + len;
	ps.line = 1;
	ps.err = err;
	ps.status = HCL_OK;
	if (len > CONFIG_FILE_MAX) {
		fail(&ps, HCL_LIMIT, 0, 0, "file larger than %d bytes",
		    CONFIG_FILE_MAX);
		return ps.status;
	}
	if (check_text(&ps) == -1)
		return ps.status;
	ps.doc = mem_calloc(1, sizeof(*ps.doc));
	ps.scratch = mem_alloc(CONFIG_STRING_MAX + 1);
	if (ps.doc == NULL || ps.scratch == NULL) {
		nomem(&ps);
		goto out;
	}
	memset(&start, 0, sizeof(start));
	ps.doc->root = node_new(&ps, HCL_OBJECT, &start);
	if (ps.doc->root == NULL)
		goto out;
	(void)parse_body(&ps, ps.doc->root, 0, NULL, NULL);
out:
	mem_free(ps.scratch);
	if (ps.status != HCL_OK) {
		hcl_doc_free(ps.doc);
		return ps.status;
	}
	*docp = ps.doc;
	return HCL_OK;
}

/*
 * Records the first failure and returns -1, so every caller can write
 * `return fail(...)`. Later failures (there are none after the first, as
 * parsing stops) would not overwrite it.
 */
static int
fail(struct parser *ps, enum hcl_status st, unsigned line, unsigned col,
    const char *fmt, ...)
{
	va_list	 ap;

	if (ps->status != HCL_OK)
		return -1;
	ps->status = st;
	ps->err->line = line;
	ps->err->col = col;
	va_start(ap, fmt);
	(void)vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int
nomem(struct parser *ps)
{
	return fail(ps, HCL_NOMEM, 0, 0, "out of memory");
}

static unsigned
cur_col(const struct parser *ps)
{
	return (unsigned)(ps->p - ps->bol) + 1;
}

/* Steps over the '\n' at ps->p. */
static void
newline(struct parser *ps)
{
	ps->p++;
	ps->line++;
	ps->bol = ps->p;
}

/*
 * Identifiers are ASCII. hashicorp/hcl also takes Unicode letters; keys
 * that need them can be quoted.
 */
static int
is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_ident(int c)
{
	return is_ident_start(c) || is_digit(c) || c == '-' || c == '.';
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(int c)
{
	return hex_value(c) >= 0;
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *
doc_strndup(struct parser *ps, const char *s, size_t n)
{
	char	*p;

	p = hcl_doc_alloc(ps->doc, n + 1);
	if (p == NULL) {
		nomem(ps);
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * The whole text must be UTF-8 without NUL bytes, as hashicorp/hcl's
 * scanner requires; checking it once here keeps the lexer byte-based.
 */
static int
check_text(struct parser *ps)
{
	const unsigned char	*s = (const unsigned char *)ps->p;
	const unsigned char	*e = (const unsigned char *)ps->end;
	const unsigned char	*bol, *q;
	const char		*why = "invalid UTF-8 byte sequence";
	unsigned		 line = 1;
	uint32_t		 cp;
	size_t			 n, i;

	if (e - s >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		return fail(ps, HCL_SYNTAX, 1, 1, "byte order mark at the "
		    "start of the file (save it as UTF-8 without one)");
	while (s < e) {
		if (*s == 0) {
			why = "NUL byte in the file";
			break;
		}
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf)
			n = 1;
		else if (*s >= 0xe0 && *s <= 0xef)
			n = 2;
		else if (*s >= 0xf0 && *s <= 0xf4)
			n = 3;
		else
			break;
		if ((size_t)(e - s) <= n)
			break;
		cp = *s & (0x7f >> (n + 1));
		for (i = 1; i <= n && (s[i] & 0xc0) == 0x80; i++)
			cp = cp << 6 | (s[i] & 0x3f);
		if (i <= n || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			break;
		s += n + 1;
	}
	if (s == e)
		return 0;
	bol = (const unsigned char *)ps->p;
	for (q = bol; q < s; q++) {
		if (*q == '\n') {
			line++;
			bol = q + 1;
		}
	}
	return fail(ps, HCL_SYNTAX, line, (unsigned)(s - bol) + 1, "%s", why);
}

/* Skips white space and the three kinds of comment. */
static int
lex_space(struct parser *ps)
{
	unsigned	 line, col;

	while (ps->p < ps->end) {
		switch (*ps->p) {
		case '\n':
			newline(ps);
			continue;
		case ' ':
		case '\t':
		case '\r':
			ps->p++;
			continue;
		case '#':
			break;
		case '/':
			if (ps->p + 1 < ps->end && ps->p[1] == '/')
				break;
			if (ps->p + 1 < ps->end && ps->p[1] == '*') {
				line = ps->line;
				col = cur_col(ps);
				ps->p += 2;
				for (;;) {
					if (ps->p >= ps->end)
						return fail(ps, HCL_SYNTAX,
						    line, col, "unterminated "
						    "/* comment");
					if (ps->p[0] == '*' &&
					    ps->p + 1 < ps->end &&
					    ps->p[1] == '/')
						break;
					if (*ps->p == '\n')
						newline(ps);
					else
						ps->p++;
				}
				ps->p += 2;
				continue;
			}
			return fail(ps, HCL_SYNTAX, ps->line, cur_col(ps),
			    "expected '/' or '*' after '/' to start a "
			    "comment");
		default:
			return 0;
		}
		/* A line comment: up to, not over, the newline. */
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
	}
	return 0;
}

static int
lex_next(struct parser *ps, struct token *t)
{
	int	 c, c1;

	if (lex_space(ps) == -1)
		return -1;
	memset(t, 0, sizeof(*t));
	t->line = ps->tline = ps->line;
	t->col = ps->tcol = cur_col(ps);
	if (ps->p >= ps->end) {
		t->type = T_EOF;
		return 0;
	}
	c = (unsigned char)*ps->p;
	c1 = ps->p + 1 < ps->end ? (unsigned char)ps->p[1] : -1;
	switch (c) {
	case '{':
		t->type = T_LBRACE;
		break;
	case '}':
		t->type = T_RBRACE;
		break;
	case '[':
		t->type = T_LBRACK;
		break;
	case ']':
		t->type = T_RBRACK;
		break;
	case ',':
		t->type = T_COMMA;
		break;
	case '=':
		t->type = T_ASSIGN;
		break;
	case '"':
		return lex_string(ps, t);
	case '<':
		return lex_heredoc(ps, t);
	case '-':
		if (!is_digit(c1))
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "expected a digit after '-'");
		return lex_number(ps, t);
	case '.':
		if (!is_digit(c1))
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "unexpected character '.'");
		return lex_number(ps, t);
	default:
		if (is_digit(c))
			return lex_number(ps, t);
		if (is_ident_start(c))
			return lex_ident(ps, t);
		if (c >= 0x80)
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "unexpected non-ASCII character (a key that "
			    "needs one must be quoted)");
		if (c >= 0x20 && c < 0x7f)
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "unexpected character '%c'", c);
		return fail(ps, HCL_SYNTAX, t->line, t->col,
		    "unexpected control character 0x%02x", (unsigned)c);
	}
	ps->p++;
	return 0;
}

static int
lex_ident(struct parser *ps, struct token *t)
{
	const char	*s = ps->p;
	size_t		 n;

	while (ps->p < ps->end && is_ident((unsigned char)*ps->p))
		ps->p++;
	n = (size_t)(ps->p - s);
	if (n > CONFIG_KEY_MAX)
		return fail(ps, HCL_LIMIT, t->line, t->col,
		    "identifier longer than %d bytes", CONFIG_KEY_MAX);
	t->text = doc_strndup(ps, s, n);
	if (t->text == NULL)
		return -1;
	t->len = n;
	if ((n == 4 && memcmp(s, "true", 4) == 0) ||
	    (n == 5 && memcmp(s, "false", 5) == 0))
		t->type = T_BOOL;
	else
		t->type = T_IDENT;
	return 0;
}

/*
 * Numbers as hashicorp/hcl scans them: an optional '-', then 0x hex, an
 * octal with a leading 0, or decimal with an optional fraction and
 * exponent. The literal must end where a key could not go on, so 1.2.3,
 * 10s or 0x1g are one malformed number, not two tokens.
 */
static int
lex_number(struct parser *ps, struct token *t)
{
	const char	*s = ps->p, *d;
	const char	*e = ps->end;
	const char	*p = ps->p;
	size_t		 ndig, i, n;
	int		 is_float = 0, bad = 0;

	if (*p == '-')
		p++;
	if (p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		d = p;
		while (p < e && is_hex((unsigned char)*p))
			p++;
		if (p == d)
			bad = 1;
	} else {
		d = p;
		while (p < e && is_digit((unsigned char)*p))
			p++;
		ndig = (size_t)(p - d);
		if (p < e && *p == '.') {
			is_float = 1;
			p++;
			while (p < e && is_digit((unsigned char)*p))
				p++;
		}
		if (p < e && (*p == 'e' || *p == 'E')) {
			is_float = 1;
			p++;
			if (p < e && (*p == '+' || *p == '-'))
				p++;
			d = p;
			while (p < e && is_digit((unsigned char)*p))
				p++;
			if (p == d)
				bad = 1;
		} else if (!is_float && ndig > 1 && d[0] == '0') {
			for (i = 1; i < ndig; i++) {
				if (d[i] > '7')
					bad = 1;
			}
		}
	}
	if (p < e && (is_ident((unsigned char)*p) || *p == '+')) {
		bad = 1;
		while (p < e && (is_ident((unsigned char)*p) || *p == '+'))
			p++;
	}
	ps->p = p;
	n = (size_t)(p - s);
	if (bad)
		return fail(ps, HCL_SYNTAX, t->line, t->col,
		    "malformed number \"%.*s%s\"",
		    (int)(n > QUOTE_MAX ? QUOTE_MAX : n), s,
		    n > QUOTE_MAX ? "..." : "");
	if (n > CONFIG_KEY_MAX)
		return fail(ps, HCL_LIMIT, t->line, t->col,
		    "number longer than %d bytes", CONFIG_KEY_MAX);
	t->text = doc_strndup(ps, s, n);
	if (t->text == NULL)
		return -1;
	t->len = n;
	t->type = is_float ? T_FLOAT : T_NUMBER;
	return 0;
}

static int
put(struct parser *ps, int c)
{
	if (ps->slen >= CONFIG_STRING_MAX)
		return fail(ps, HCL_LIMIT, ps->tline, ps->tcol,
		    "string longer than %d bytes", CONFIG_STRING_MAX);
	ps->scratch[ps->slen++] = (char)c;
	return 0;
}

static int
put_utf8(struct parser *ps, uint32_t cp)
{
	if (cp < 0x80)
		return put(ps, (int)cp);
	if (cp < 0x800)
		return put(ps, (int)(0xc0 | cp >> 6)) == -1 ||
		    put(ps, (int)(0x80 | (cp & 0x3f))) == -1 ? -1 : 0;
	if (cp < 0x10000)
		return put(ps, (int)(0xe0 | cp >> 12)) == -1 ||
		    put(ps, (int)(0x80 | (cp >> 6 & 0x3f))) == -1 ||
		    put(ps, (int)(0x80 | (cp & 0x3f))) == -1 ? -1 : 0;
	return put(ps, (int)(0xf0 | cp >> 18)) == -1 ||
	    put(ps, (int)(0x80 | (cp >> 12 & 0x3f))) == -1 ||
	    put(ps, (int)(0x80 | (cp >> 6 & 0x3f))) == -1 ||
	    put(ps, (int)(0x80 | (cp & 0x3f))) == -1 ? -1 : 0;
}

/*
 * A quoted string. Like hashicorp/hcl, a raw newline ends it with an
 * error, and a ${...} section is kept as written, escapes and quotes
 * inside it included (HCL1 leaves interpolation to the application;
 * SPIRE does none, so "${X}" stays literal unless -expandEnv ran).
 */
static int
lex_string(struct parser *ps, struct token *t)
{
	int	 c;

	ps->p++;
	ps->slen = 0;
	for (;;) {
		if (ps->p >= ps->end)
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "unterminated string (no closing '\"')");
		c = (unsigned char)*ps->p;
		if (c == '"') {
			ps->p++;
			break;
		}
		if (c == '\n')
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "newline in quoted string (close it with '\"', "
			    "or write \\n or use a heredoc)");
		if (c == '$' && ps->p + 1 < ps->end && ps->p[1] == '{') {
			if (lex_interp(ps) == -1)
				return -1;
			continue;
		}
		if (c == '\\') {
			if (lex_escape(ps) == -1)
				return -1;
			continue;
		}
		if (put(ps, c) == -1)
			return -1;
		ps->p++;
	}
	t->text = doc_strndup(ps, ps->scratch, ps->slen);
	if (t->text == NULL)
		return -1;
	t->len = ps->slen;
	t->type = T_STRING;
	return 0;
}

/* Copies a ${...} section with its braces balanced. */
static int
lex_interp(struct parser *ps)
{
	unsigned	 line = ps->line, col = cur_col(ps);
	int		 depth = 1, c;

	if (put(ps, '$') == -1 || put(ps, '{') == -1)
		return -1;
	ps->p += 2;
	while (depth > 0) {
		if (ps->p >= ps->end)
			return fail(ps, HCL_SYNTAX, line, col,
			    "unterminated ${ in string (no closing '}')");
		c = (unsigned char)*ps->p;
		if (c == '{')
			depth++;
		else if (c == '}')
			depth--;
		if (put(ps, c) == -1)
			return -1;
		if (c == '\n')
			newline(ps);
		else
			ps->p++;
	}
	return 0;
}

/* One backslash escape, the set hashicorp/hcl (and Go) accept. */
static int
lex_escape(struct parser *ps)
{
	unsigned	 line = ps->line, col = cur_col(ps);
	uint32_t	 v;
	int		 c, ndig, i, d;

	ps->p++;
	if (ps->p >= ps->end)
		return fail(ps, HCL_SYNTAX, ps->tline, ps->tcol,
		    "unterminated string (no closing '\"')");
	c = (unsigned char)*ps->p++;
	switch (c) {
	case 'a':
		return put(ps, '\a');
	case 'b':
		return put(ps, '\b');
	case 'f':
		return put(ps, '\f');
	case 'n':
		return put(ps, '\n');
	case 'r':
		return put(ps, '\r');
	case 't':
		return put(ps, '\t');
	case 'v':
		return put(ps, '\v');
	case '\\':
	case '"':
		return put(ps, c);
	case '0': case '1': case '2': case '3':
	case '4': case '5': case '6': case '7':
		v = (uint32_t)(c - '0');
		for (i = 0; i < 2; i++) {
			if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '7')
				return fail(ps, HCL_SYNTAX, line, col,
				    "octal escape needs three digits");
			v = v * 8 + (uint32_t)(*ps->p++ - '0');
		}
		if (v > 0377)
			return fail(ps, HCL_SYNTAX, line, col,
			    "octal escape above \\377");
		if (v == 0)
			return fail(ps, HCL_SYNTAX, line, col,
			    "NUL character in string");
		return put(ps, (int)v);
	case 'x':
		ndig = 2;
		break;
	case 'u':
		ndig = 4;
		break;
	case 'U':
		ndig = 8;
		break;
	default:
		if (c > 0x20 && c < 0x7f)
			return fail(ps, HCL_SYNTAX, line, col,
			    "unknown escape '\\%c' in string", c);
		return fail(ps, HCL_SYNTAX, line, col,
		    "unknown escape in string (a backslash must be "
		    "written \\\\)");
	}
	v = 0;
	for (i = 0; i < ndig; i++) {
		d = ps->p < ps->end ? hex_value((unsigned char)*ps->p) : -1;
		if (d < 0)
			return fail(ps, HCL_SYNTAX, line, col,
			    "\\%c escape needs %d hex digits", c, ndig);
		v = v << 4 | (uint32_t)d;
		ps->p++;
	}
	if (v == 0)
		return fail(ps, HCL_SYNTAX, line, col,
		    "NUL character in string");
	if (c == 'x')
		return put(ps, (int)v);
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return fail(ps, HCL_SYNTAX, line, col,
		    "\\%c%0*X is not a Unicode character", c, ndig,
		    (unsigned)v);
	return put_utf8(ps, v);
}

/*
 * <<EOF or <<-EOF, then lines up to one holding only the anchor (white
 * space around it allowed, as in hashicorp/hcl). The value is the lines
 * between, each with its newline. With <<- the closing line's
 * indentation is removed from every line, but only when every line
 * starts with it, which is hashicorp/hcl's rule too.
 */
static int
lex_heredoc(struct parser *ps, struct token *t)
{
	const char	*a, *content, *ls, *le, *nl, *q, *r, *e = ps->end;
	const char	*term = NULL, *ws_end = NULL;
	size_t		 alen, plen, n;
	int		 indent = 0, strip;

	if (ps->p + 1 >= e || ps->p[1] != '<')
		return fail(ps, HCL_SYNTAX, t->line, t->col,
		    "unexpected character '<' (a heredoc starts with <<)");
	ps->p += 2;
	if (ps->p < e && *ps->p == '-') {
		indent = 1;
		ps->p++;
	}
	a = ps->p;
	while (ps->p < e && (is_ident_start((unsigned char)*ps->p) ||
	    is_digit((unsigned char)*ps->p)))
		ps->p++;
	alen = (size_t)(ps->p - a);
	if (alen == 0)
		return fail(ps, HCL_SYNTAX, t->line, t->col,
		    "heredoc needs an anchor name after <<");
	if (alen > CONFIG_HEREDOC_TAG_MAX)
		return fail(ps, HCL_LIMIT, t->line, t->col,
		    "heredoc anchor longer than %d bytes",
		    CONFIG_HEREDOC_TAG_MAX);
	if (ps->p + 1 < e && ps->p[0] == '\r' && ps->p[1] == '\n')
		ps->p++;
	if (ps->p >= e || *ps->p != '\n')
		return fail(ps, HCL_SYNTAX, t->line, t->col,
		    "heredoc anchor \"%.*s\" must end its line", (int)alen, a);
	newline(ps);
	content = ps->p;
	for (;;) {
		ls = ps->p;
		nl = memchr(ls, '\n', (size_t)(e - ls));
		le = nl != NULL ? nl : e;
		q = ls;
		while (q < le && (*q == ' ' || *q == '\t' || *q == '\r' ||
		    *q == '\v' || *q == '\f'))
			q++;
		if ((size_t)(le - q) >= alen && memcmp(q, a, alen) == 0) {
			r = q + alen;
			while (r < le && *r == '\r')
				r++;
			if (r == le) {
				term = ls;
				ws_end = q;
				ps->p = le;
				break;
			}
		}
		if (nl == NULL)
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "unterminated heredoc: no line \"%.*s\" closes "
			    "it", (int)alen, a);
		ps->p = nl;
		newline(ps);
	}
	if ((size_t)(term - content) > CONFIG_STRING_MAX)
		return fail(ps, HCL_LIMIT, t->line, t->col,
		    "heredoc longer than %d bytes", CONFIG_STRING_MAX);
	plen = (size_t)(ws_end - term);
	strip = indent && plen > 0;
	for (q = content; strip && q < term; q = nl + 1) {
		nl = memchr(q, '\n', (size_t)(term - q));
		if ((size_t)(nl - q) < plen || memcmp(q, term, plen) != 0)
			strip = 0;
	}
	ps->slen = 0;
	for (q = content; q < term; q = nl + 1) {
		nl = memchr(q, '\n', (size_t)(term - q));
		n = (size_t)(nl - q) + 1;
		if (strip) {
			q += plen;
			n -= plen;
		}
		memcpy(ps->scratch + ps->slen, q, n);
		ps->slen += n;
	}
	t->text = doc_strndup(ps, ps->scratch, ps->slen);
	if (t->text == NULL)
		return -1;
	t->len = ps->slen;
	t->type = T_HEREDOC;
	return 0;
}

static int
next(struct parser *ps, struct token *t)
{
	if (ps->have_ahead) {
		*t = ps->ahead;
		ps->have_ahead = 0;
		return 0;
	}
	return lex_next(ps, t);
}

static int
peek(struct parser *ps, const struct token **tp)
{
	if (!ps->have_ahead) {
		if (lex_next(ps, &ps->ahead) == -1)
			return -1;
		ps->have_ahead = 1;
	}
	*tp = &ps->ahead;
	return 0;
}

/* A token as an error message names it: "end of file", "'}'", ... */
static void
describe(const struct token *t, char *buf, size_t size)
{
	const char	*more = t->len > QUOTE_MAX ? "..." : "";
	int		 n = t->len > QUOTE_MAX ? QUOTE_MAX : (int)t->len;

	switch (t->type) {
	case T_EOF:
		(void)snprintf(buf, size, "end of file");
		break;
	case T_IDENT:
		(void)snprintf(buf, size, "identifier \"%.*s%s\"", n,
		    t->text, more);
		break;
	case T_STRING:
		(void)snprintf(buf, size, "string \"%.*s%s\"", n, t->text,
		    more);
		break;
	case T_HEREDOC:
		(void)snprintf(buf, size, "a heredoc");
		break;
	case T_NUMBER:
	case T_FLOAT:
		(void)snprintf(buf, size, "number %s", t->text);
		break;
	case T_BOOL:
		(void)snprintf(buf, size, "%s", t->text);
		break;
	case T_LBRACE:
		(void)snprintf(buf, size, "'{'");
		break;
	case T_RBRACE:
		(void)snprintf(buf, size, "'}'");
		break;
	case T_LBRACK:
		(void)snprintf(buf, size, "'['");
		break;
	case T_RBRACK:
		(void)snprintf(buf, size, "']'");
		break;
	case T_COMMA:
		(void)snprintf(buf, size, "','");
		break;
	case T_ASSIGN:
		(void)snprintf(buf, size, "'='");
		break;
	}
}

static struct hcl_node *
node_new(struct parser *ps, enum hcl_kind kind, const struct token *t)
{
	struct hcl_node	*n;

	if (++ps->nodes > CONFIG_NODES_MAX) {
		fail(ps, HCL_LIMIT, t->line, t->col,
		    "more than %d keys and values in the file",
		    CONFIG_NODES_MAX);
		return NULL;
	}
	n = hcl_doc_alloc(ps->doc, sizeof(*n));
	if (n == NULL) {
		nomem(ps);
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->line = t->line;
	n->col = t->col;
	if (kind != HCL_OBJECT && kind != HCL_LIST) {
		n->text = t->text;
		n->len = t->len;
	}
	return n;
}

static struct hcl_item *
item_new(struct parser *ps, const struct token *key)
{
	struct hcl_item	*it;

	if (++ps->nodes > CONFIG_NODES_MAX) {
		fail(ps, HCL_LIMIT, key->line, key->col,
		    "more than %d keys and values in the file",
		    CONFIG_NODES_MAX);
		return NULL;
	}
	it = hcl_doc_alloc(ps->doc, sizeof(*it));
	if (it == NULL) {
		nomem(ps);
		return NULL;
	}
	memset(it, 0, sizeof(*it));
	it->key = key->text;
	it->line = key->line;
	it->col = key->col;
	return it;
}

/*
 * Items up to the '}' matching open, or to the end of the file when open
 * is NULL. what names the block in messages.
 */
static int
parse_body(struct parser *ps, struct hcl_node *obj, unsigned depth,
    const struct token *open, const char *what)
{
	struct hcl_item		**tail = &obj->items;
	struct hcl_item		 *it;
	const struct token	 *ahead;
	struct token		  t, key;
	char			 *labels[CONFIG_LABELS_MAX];
	char			  desc[QUOTE_MAX + 32];
	size_t			  nlabels;

	for (;;) {
		if (next(ps, &t) == -1)
			return -1;
		if (t.type == T_EOF && open == NULL)
			return 0;
		if (t.type == T_EOF)
			return fail(ps, HCL_SYNTAX, open->line, open->col,
			    "block \"%s\" is not closed: expected '}', found "
			    "end of file", what);
		if (t.type == T_RBRACE && open != NULL)
			return 0;
		if (t.type == T_RBRACE)
			return fail(ps, HCL_SYNTAX, t.line, t.col,
			    "unexpected '}' outside any block");
		if (t.type != T_IDENT && t.type != T_STRING) {
			describe(&t, desc, sizeof(desc));
			return fail(ps, HCL_SYNTAX, t.line, t.col,
			    "expected a key, found %s", desc);
		}
		key = t;
		it = item_new(ps, &key);
		if (it == NULL)
			return -1;
		nlabels = 0;
		for (;;) {
			if (next(ps, &t) == -1)
				return -1;
			if (t.type != T_IDENT && t.type != T_STRING)
				break;
			if (nlabels == CONFIG_LABELS_MAX)
				return fail(ps, HCL_LIMIT, key.line, key.col,
				    "block \"%s\" has more than %d labels",
				    key.text, CONFIG_LABELS_MAX);
			labels[nlabels++] = t.text;
		}
		if (t.type == T_LBRACE) {
			if (depth >= CONFIG_DEPTH_MAX)
				return fail(ps, HCL_LIMIT, t.line, t.col,
				    "blocks and lists nested deeper than %d "
				    "levels", CONFIG_DEPTH_MAX);
			it->value = node_new(ps, HCL_OBJECT, &t);
			if (it->value == NULL ||
			    parse_body(ps, it->value, depth + 1, &key,
			    key.text) == -1)
				return -1;
		} else if (t.type == T_ASSIGN && nlabels == 0) {
			if (next(ps, &t) == -1 ||
			    parse_value(ps, &t, depth, key.text,
			    &it->value) == -1)
				return -1;
		} else {
			describe(&t, desc, sizeof(desc));
			if (nlabels == 0)
				return fail(ps, HCL_SYNTAX, key.line, key.col,
				    "expected '=' or '{' after key \"%s\", "
				    "found %s", key.text, desc);
			return fail(ps, HCL_SYNTAX, key.line, key.col,
			    "expected '{' after block \"%s\" \"%.*s\"%s, "
			    "found %s", key.text, QUOTE_MAX, labels[0],
			    nlabels > 1 ? " ..." : "", desc);
		}
		if (nlabels > 0) {
			it->labels = hcl_doc_alloc(ps->doc,
			    nlabels * sizeof(*it->labels));
			if (it->labels == NULL)
				return nomem(ps);
			memcpy(it->labels, labels,
			    nlabels * sizeof(*it->labels));
			it->nlabels = nlabels;
		}
		*tail = it;
		tail = &it->next;
		if (++obj->count > CONFIG_ITEMS_MAX)
			return fail(ps, HCL_LIMIT, key.line, key.col,
			    "more than %d keys in one block",
			    CONFIG_ITEMS_MAX);
		/* hashicorp/hcl lets a comma follow an item. */
		if (peek(ps, &ahead) == -1)
			return -1;
		if (ahead->type == T_COMMA)
			ps->have_ahead = 0;
	}
}

/*
 * The value starting at t. key names it in messages; NULL means a list
 * element.
 */
static int
parse_value(struct parser *ps, const struct token *t, unsigned depth,
    const char *key, struct hcl_node **vp)
{
	struct hcl_node	*v;
	char		 desc[QUOTE_MAX + 32];

	*vp = NULL;
	switch (t->type) {
	case T_STRING:
		v = node_new(ps, HCL_STRING, t);
		break;
	case T_HEREDOC:
		v = node_new(ps, HCL_HEREDOC, t);
		break;
	case T_NUMBER:
		v = node_new(ps, HCL_NUMBER, t);
		break;
	case T_FLOAT:
		v = node_new(ps, HCL_FLOAT, t);
		break;
	case T_BOOL:
		v = node_new(ps, HCL_BOOL, t);
		break;
	case T_LBRACE:
	case T_LBRACK:
		if (depth >= CONFIG_DEPTH_MAX)
			return fail(ps, HCL_LIMIT, t->line, t->col,
			    "blocks and lists nested deeper than %d levels",
			    CONFIG_DEPTH_MAX);
		if (t->type == T_LBRACE) {
			v = node_new(ps, HCL_OBJECT, t);
			if (v == NULL || parse_body(ps, v, depth + 1, t,
			    key != NULL ? key : "(list element)") == -1)
				return -1;
		} else {
			v = node_new(ps, HCL_LIST, t);
			if (v == NULL || parse_list(ps, v, depth + 1, t,
			    key) == -1)
				return -1;
		}
		break;
	default:
		describe(t, desc, sizeof(desc));
		if (key == NULL)
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "expected a list element or ']', found %s", desc);
		if (t->type == T_IDENT)
			return fail(ps, HCL_SYNTAX, t->line, t->col,
			    "expected a value for key \"%s\", found %s "
			    "(strings must be quoted)", key, desc);
		return fail(ps, HCL_SYNTAX, t->line, t->col,
		    "expected a value after '=' for key \"%s\", found %s",
		    key, desc);
	}
	if (v == NULL)
		return -1;
	*vp = v;
	return 0;
}

static int
parse_list(struct parser *ps, struct hcl_node *list, unsigned depth,
    const struct token *open, const char *key)
{
	struct hcl_node	**tail = &list->elems;
	struct hcl_node	 *v;
	struct token	  t;
	char		  desc[QUOTE_MAX + 32];

	for (;;) {
		if (next(ps, &t) == -1)
			return -1;
		if (t.type == T_RBRACK)
			return 0;
		if (t.type == T_EOF)
			break;
		if (parse_value(ps, &t, depth, NULL, &v) == -1)
			return -1;
		*tail = v;
		tail = &v->next;
		if (++list->count > CONFIG_LIST_MAX)
			return fail(ps, HCL_LIMIT, t.line, t.col,
			    "list longer than %d elements", CONFIG_LIST_MAX);
		if (next(ps, &t) == -1)
			return -1;
		if (t.type == T_COMMA)
			continue;
		if (t.type == T_RBRACK)
			return 0;
		if (t.type == T_EOF)
			break;
		describe(&t, desc, sizeof(desc));
		return fail(ps, HCL_SYNTAX, t.line, t.col,
		    "expected ',' or ']' after a list element, found %s",
		    desc);
	}
	if (key != NULL)
		return fail(ps, HCL_SYNTAX, open->line, open->col,
		    "list for key \"%s\" is not closed: expected ']', found "
		    "end of file", key);
	return fail(ps, HCL_SYNTAX, open->line, open->col,
	    "list is not closed: expected ']', found end of file");
}
