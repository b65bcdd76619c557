/* PEM blocks to DER and back (RFC 7468), over core/base64. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "core/mem.h"
#include "pki/pem.h"

#define PEM_BEGIN	"-----BEGIN "
#define PEM_END		"-----END "
#define PEM_DASHES	"-----"
#define PEM_LINE	64	/* base64 characters per encoded line */

/* One line of text, without its line ending and trailing blanks. */
struct pem_line {
	const char	*p;
	size_t		 len;
};

static int		pem_next_line(const char *, size_t, size_t *,
			    struct pem_line *);
static int		pem_starts(const struct pem_line *, const char *);
static enum pem_err	pem_begin_label(const struct pem_line *, char *);
static enum pem_err	pem_body(const char *, size_t, struct pem_block *);
static enum pem_err	pem_push(struct pem_block **, size_t *,
			    struct pem_block *);

const char *
pem_strerror(enum pem_err err)
{
	switch (err) {
	case PEM_OK:
		return "success";
	case PEM_ERR_NOMEM:
		return "out of memory";
	case PEM_ERR_NONE:
		return "no PEM block found";
	case PEM_ERR_LABEL:
		return "bad PEM BEGIN line";
	case PEM_ERR_UNTERMINATED:
		return "PEM block without its END line";
	case PEM_ERR_END_MISMATCH:
		return "PEM END line names another label";
	case PEM_ERR_HEADERS:
		return "PEM headers (an encrypted key?) are not supported";
	case PEM_ERR_BASE64:
		return "PEM body is not valid base64";
	case PEM_ERR_TOO_MANY:
		return "too many PEM blocks";
	case PEM_ERR_TOO_BIG:
		return "PEM block too large";
	}
	return "unknown PEM error";
}

/* The line at *pos; 0 at the end of the text. */
static int
pem_next_line(const char *text, size_t len, size_t *pos,
    struct pem_line *line)
{
	const char	*nl;
	size_t		 n;

	if (*pos >= len)
		return 0;
	line->p = text + *pos;
	nl = memchr(line->p, '\n', len - *pos);
	n = nl != NULL ? (size_t)(nl - line->p) : len - *pos;
	*pos += n + (nl != NULL);
	while (n > 0 && (line->p[n - 1] == '\r' || line->p[n - 1] == ' ' ||
	    line->p[n - 1] == '\t'))
		n--;
	line->len = n;
	return 1;
}

static int
pem_starts(const struct pem_line *line, const char *s)
{
	size_t	 n = strlen(s);

	return line->len >= n && memcmp(line->p, s, n) == 0;
}

/* "-----BEGIN LABEL-----" gives LABEL. */
static enum pem_err
pem_begin_label(const struct pem_line *line, char *label)
{
	size_t	 b = strlen(PEM_BEGIN), d = strlen(PEM_DASHES), n, i;

	if (line->len < b + d + 1 ||
	    memcmp(line->p + line->len - d, PEM_DASHES, d) != 0)
		return PEM_ERR_LABEL;
	n = line->len - b - d;
	if (n > PEM_LABEL_MAX || line->p[b] == ' ' ||
	    line->p[b + n - 1] == ' ')
		return PEM_ERR_LABEL;
	for (i = 0; i < n; i++)
		if (line->p[b + i] < 0x20 || line->p[b + i] > 0x7e)
			return PEM_ERR_LABEL;
	memcpy(label, line->p + b, n);
	label[n] = '\0';
	return PEM_OK;
}

/* Decodes body text (whitespace ignored) into a new block's der. */
static enum pem_err
pem_body(const char *body, size_t len, struct pem_block *blk)
{
	char		*chars;
	size_t		 n = 0, i, max;
	enum pem_err	 err = PEM_OK;

	chars = mem_alloc(len + 1);
	if (chars == NULL)
		return PEM_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		if (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
		    body[i] == '\n')
			continue;
		chars[n++] = body[i];
	}
	max = base64_decoded_max(n);
	if (max > PEM_BLOCK_MAX) {
		err = PEM_ERR_TOO_BIG;
		goto out;
	}
	blk->der = mem_alloc(max);
	if (blk->der == NULL) {
		err = PEM_ERR_NOMEM;
		goto out;
	}
	if (base64_decode(BASE64_STD, chars, n, blk->der, max,
	    &blk->len) != 0 || blk->len == 0) {
		mem_free_wipe(blk->der, max);
		blk->der = NULL;
		blk->len = 0;
		err = PEM_ERR_BASE64;
	}
out:
	/* The text may be a private key too. */
	mem_free_wipe(chars, len + 1);
	return err;
}

static enum pem_err
pem_push(struct pem_block **blocks, size_t *n, struct pem_block *blk)
{
	struct pem_block	*grown;

	if (*n == PEM_BLOCKS_MAX)
		return PEM_ERR_TOO_MANY;
	grown = mem_reallocarray(*blocks, *n + 1, sizeof(**blocks));
	if (grown == NULL)
		return PEM_ERR_NOMEM;
	*blocks = grown;
	grown[(*n)++] = *blk;
	return PEM_OK;
}

enum pem_err
pem_decode(const char *text, size_t len, const char *label,
    struct pem_block **blocks, size_t *n)
{
	struct pem_line		 line;
	struct pem_block	 blk;
	char			 end[sizeof(PEM_END) + PEM_LABEL_MAX + 8];
	size_t			 pos = 0, body, body_end;
	enum pem_err		 err = PEM_OK;
	int			 found;

	*blocks = NULL;
	*n = 0;
	while (pem_next_line(text, len, &pos, &line)) {
		if (!pem_starts(&line, PEM_BEGIN))
			continue;
		memset(&blk, 0, sizeof(blk));
		err = pem_begin_label(&line, blk.label);
		if (err != PEM_OK)
			goto fail;
		snprintf(end, sizeof(end), "%s%s%s", PEM_END, blk.label,
		    PEM_DASHES);
		body = pos;
		found = 0;
		while (pem_next_line(text, len, &pos, &line)) {
			if (pem_starts(&line, PEM_END)) {
				if (line.len != strlen(end) ||
				    memcmp(line.p, end, line.len) != 0) {
					err = PEM_ERR_END_MISMATCH;
					goto fail;
				}
				found = 1;
				break;
			}
			if (memchr(line.p, ':', line.len) != NULL) {
				err = PEM_ERR_HEADERS;
				goto fail;
			}
		}
		if (!found) {
			err = PEM_ERR_UNTERMINATED;
			goto fail;
		}
		if (label != NULL && strcmp(label, blk.label) != 0)
			continue;
		body_end = (size_t)(line.p - text);
		err = pem_body(text + body, body_end - body, &blk);
		if (err != PEM_OK)
			goto fail;
		err = pem_push(blocks, n, &blk);
		if (err != PEM_OK) {
			mem_free_wipe(blk.der, blk.len);
			goto fail;
		}
	}
	if (*n == 0)
		return PEM_ERR_NONE;
	return PEM_OK;
fail:
	pem_blocks_free(*blocks, *n);
	*blocks = NULL;
	*n = 0;
	return err;
}

void
pem_blocks_free(struct pem_block *blocks, size_t n)
{
	size_t	 i;

	if (blocks == NULL)
		return;
	for (i = 0; i < n; i++)
		mem_free_wipe(blocks[i].der, blocks[i].len);
	mem_free_wipe(blocks, n * sizeof(*blocks));
}

enum pem_err
pem_encode(const char *label, const uint8_t *der, size_t len, char **out,
    size_t *outlen)
{
	char	*b64 = NULL, *s = NULL;
	size_t	 blen, size, off = 0, i, chunk;
	int	 k;

	*out = NULL;
	*outlen = 0;
	if (strlen(label) > PEM_LABEL_MAX || len > PEM_BLOCK_MAX)
		return len > PEM_BLOCK_MAX ? PEM_ERR_TOO_BIG : PEM_ERR_LABEL;
	blen = base64_encoded_len(BASE64_STD, len);
	b64 = mem_alloc(blen + 1);
	if (b64 == NULL)
		return PEM_ERR_NOMEM;
	if (base64_encode(BASE64_STD, der, len, b64, blen + 1) != 0)
		goto nomem;
	/* Two lines of dashes and label, the body, a newline per line. */
	size = 2 * (strlen(PEM_END) + 2 + PEM_LABEL_MAX + 6) + blen +
	    blen / PEM_LINE + 2;
	s = mem_alloc(size);
	if (s == NULL)
		goto nomem;
	k = snprintf(s, size, "%s%s%s\n", PEM_BEGIN, label, PEM_DASHES);
	if (k < 0 || (size_t)k >= size)
		goto nomem;
	off = (size_t)k;
	for (i = 0; i < blen; i += chunk) {
		chunk = blen - i < PEM_LINE ? blen - i : PEM_LINE;
		memcpy(s + off, b64 + i, chunk);
		off += chunk;
		s[off++] = '\n';
	}
	k = snprintf(s + off, size - off, "%s%s%s\n", PEM_END, label,
	    PEM_DASHES);
	if (k < 0 || (size_t)k >= size - off)
		goto nomem;
	off += (size_t)k;
	mem_free_wipe(b64, blen + 1);
	*out = s;
	*outlen = off;
	return PEM_OK;
nomem:
	mem_free_wipe(b64, blen + 1);
	if (s != NULL)
		mem_free_wipe(s, size);
	return PEM_ERR_NOMEM;
}
