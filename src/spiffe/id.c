/* SPIFFE ID and trust domain parsing, by the SPIFFE-ID standard. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "spiffe/id.h"

static int		 spiffe_scheme_at(const char *, size_t);
static enum spiffe_err	 spiffe_td_check(const char *, size_t);

const char *
spiffe_strerror(enum spiffe_err err)
{
	switch (err) {
	case SPIFFE_OK:
		return "success";
	case SPIFFE_ERR_EMPTY:
		return "SPIFFE ID cannot be empty";
	case SPIFFE_ERR_TOO_LONG:
		return "SPIFFE ID is longer than 2048 bytes";
	case SPIFFE_ERR_SCHEME:
		return "scheme is missing or invalid";
	case SPIFFE_ERR_TD_MISSING:
		return "trust domain is missing";
	case SPIFFE_ERR_TD_TOO_LONG:
		return "trust domain is longer than 255 bytes";
	case SPIFFE_ERR_TD_UPPER:
		return "trust domain cannot contain upper-case letters";
	case SPIFFE_ERR_TD_PORT:
		return "trust domain cannot have a port";
	case SPIFFE_ERR_TD_USERINFO:
		return "trust domain cannot have user info";
	case SPIFFE_ERR_TD_PERCENT:
		return "trust domain cannot be percent-encoded";
	case SPIFFE_ERR_TD_CHAR:
		return "trust domain characters are limited to lowercase "
		    "letters, numbers, dots, dashes, and underscores";
	case SPIFFE_ERR_TD_HAS_PATH:
		return "trust domain ID cannot have a path";
	case SPIFFE_ERR_QUERY:
		return "SPIFFE ID cannot have a query";
	case SPIFFE_ERR_FRAGMENT:
		return "SPIFFE ID cannot have a fragment";
	case SPIFFE_ERR_PATH_NO_SLASH:
		return "path must have a leading slash";
	case SPIFFE_ERR_PATH_EMPTY_SEGMENT:
		return "path cannot contain empty segments";
	case SPIFFE_ERR_PATH_DOT_SEGMENT:
		return "path cannot contain dot segments";
	case SPIFFE_ERR_PATH_TRAILING_SLASH:
		return "path cannot have a trailing slash";
	case SPIFFE_ERR_PATH_PERCENT:
		return "path cannot be percent-encoded";
	case SPIFFE_ERR_PATH_CHAR:
		return "path segment characters are limited to letters, "
		    "numbers, dots, dashes, and underscores";
	case SPIFFE_ERR_BUFFER:
		return "buffer too small for the SPIFFE ID";
	}
	return "unknown SPIFFE ID error";
}

/* 1 when s starts with "spiffe://" in any case. */
static int
spiffe_scheme_at(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len < SPIFFE_SCHEME_LEN)
		return 0;
	for (i = 0; i < SPIFFE_SCHEME_LEN; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != SPIFFE_SCHEME[i])
			return 0;
	}
	return 1;
}

static enum spiffe_err
spiffe_td_check(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0)
		return SPIFFE_ERR_TD_MISSING;
	if (len > SPIFFE_TD_MAX)
		return SPIFFE_ERR_TD_TOO_LONG;
	for (i = 0; i < len; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_')
			continue;
		if (c >= 'A' && c <= 'Z')
			return SPIFFE_ERR_TD_UPPER;
		switch (c) {
		case ':':
			return SPIFFE_ERR_TD_PORT;
		case '@':
			return SPIFFE_ERR_TD_USERINFO;
		case '%':
			return SPIFFE_ERR_TD_PERCENT;
		case '?':
			return SPIFFE_ERR_QUERY;
		case '#':
			return SPIFFE_ERR_FRAGMENT;
		default:
			return SPIFFE_ERR_TD_CHAR;
		}
	}
	return SPIFFE_OK;
}

enum spiffe_err
spiffe_path_check(const char *path, size_t len)
{
	size_t	 i, seg = 0;	/* seg: where the current segment starts */
	char	 c;

	if (len == 0)
		return SPIFFE_OK;
	if (path[0] != '/')
		return SPIFFE_ERR_PATH_NO_SLASH;
	/* The end counts as one more '/', closing the last segment. */
	for (i = 1; i <= len; i++) {
		c = i < len ? path[i] : '/';
		if (c == '/') {
			/* The segment path[seg + 1 .. i) just ended. */
			if (i == seg + 1)
				return i == len ?
				    SPIFFE_ERR_PATH_TRAILING_SLASH :
				    SPIFFE_ERR_PATH_EMPTY_SEGMENT;
			if ((i == seg + 2 && path[seg + 1] == '.') ||
			    (i == seg + 3 && path[seg + 1] == '.' &&
			    path[seg + 2] == '.'))
				return SPIFFE_ERR_PATH_DOT_SEGMENT;
			seg = i;
			continue;
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			continue;
		switch (c) {
		case '%':
			return SPIFFE_ERR_PATH_PERCENT;
		case '?':
			return SPIFFE_ERR_QUERY;
		case '#':
			return SPIFFE_ERR_FRAGMENT;
		default:
			return SPIFFE_ERR_PATH_CHAR;
		}
	}
	return SPIFFE_OK;
}

enum spiffe_err
spiffe_id_parse(const char *s, size_t len, struct spiffe_id *out)
{
	const char	*rest, *slash;
	size_t		 rlen, tdlen;
	enum spiffe_err	 err;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return SPIFFE_ERR_EMPTY;
	if (len > SPIFFE_ID_MAX)
		return SPIFFE_ERR_TOO_LONG;
	if (!spiffe_scheme_at(s, len))
		return SPIFFE_ERR_SCHEME;
	rest = s + SPIFFE_SCHEME_LEN;
	rlen = len - SPIFFE_SCHEME_LEN;
	slash = memchr(rest, '/', rlen);
	tdlen = slash != NULL ? (size_t)(slash - rest) : rlen;
	err = spiffe_td_check(rest, tdlen);
	if (err != SPIFFE_OK)
		return err;
	err = spiffe_path_check(rest + tdlen, rlen - tdlen);
	if (err != SPIFFE_OK)
		return err;
	/* Both fit: the length caps above bound them. */
	memcpy(out->td.name, rest, tdlen);
	memcpy(out->path, rest + tdlen, rlen - tdlen);
	return SPIFFE_OK;
}

enum spiffe_err
spiffe_td_parse(const char *s, size_t len, struct spiffe_td *out)
{
	struct spiffe_id	 id;
	enum spiffe_err		 err;

	memset(out, 0, sizeof(*out));
	/* Anything with "://" is meant as an ID, so judge it as one. */
	if (spiffe_scheme_at(s, len) || memmem(s, len, "://", 3) != NULL) {
		err = spiffe_id_parse(s, len, &id);
		if (err != SPIFFE_OK)
			return err;
		if (id.path[0] != '\0')
			return SPIFFE_ERR_TD_HAS_PATH;
		*out = id.td;
		return SPIFFE_OK;
	}
	err = spiffe_td_check(s, len);
	if (err != SPIFFE_OK)
		return err;
	memcpy(out->name, s, len);
	return SPIFFE_OK;
}

enum spiffe_err
spiffe_id_make(const struct spiffe_td *td, const char *path,
    struct spiffe_id *out)
{
	size_t		 tdlen, plen;
	enum spiffe_err	 err;

	memset(out, 0, sizeof(*out));
	tdlen = strnlen(td->name, sizeof(td->name));
	err = spiffe_td_check(td->name, tdlen);
	if (err != SPIFFE_OK)
		return err;
	plen = strlen(path);
	if (SPIFFE_SCHEME_LEN + tdlen + plen > SPIFFE_ID_MAX)
		return SPIFFE_ERR_TOO_LONG;
	err = spiffe_path_check(path, plen);
	if (err != SPIFFE_OK)
		return err;
	memcpy(out->td.name, td->name, tdlen);
	memcpy(out->path, path, plen);
	return SPIFFE_OK;
}

enum spiffe_err
spiffe_id_format(const struct spiffe_id *id, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, "%s%s%s", SPIFFE_SCHEME, id->td.name,
	    id->path);
	if (n < 0 || (size_t)n >= len)
		return SPIFFE_ERR_BUFFER;
	return SPIFFE_OK;
}

enum spiffe_err
spiffe_td_format_id(const struct spiffe_td *td, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, "%s%s", SPIFFE_SCHEME, td->name);
	if (n < 0 || (size_t)n >= len)
		return SPIFFE_ERR_BUFFER;
	return SPIFFE_OK;
}

int
spiffe_id_equal(const struct spiffe_id *a, const struct spiffe_id *b)
{
	return strcmp(a->td.name, b->td.name) == 0 &&
	    strcmp(a->path, b->path) == 0;
}

int
spiffe_id_member_of(const struct spiffe_id *id, const struct spiffe_td *td)
{
	/* Parsed trust domains are lower case already. */
	return strcmp(id->td.name, td->name) == 0;
}

int
spiffe_id_is_td(const struct spiffe_id *id)
{
	return id->path[0] == '\0';
}

int
spiffe_id_under(const struct spiffe_id *id, const char *prefix)
{
	size_t	 plen;

	plen = strlen(prefix);
	if (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	if (strncmp(id->path, prefix, plen) != 0)
		return 0;
	/* Checked paths never end in '/', so a '/' here has more after. */
	return id->path[plen] == '/';
}
