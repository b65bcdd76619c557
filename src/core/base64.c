/* Strict RFC 4648 base64 in the standard and URL alphabets. */
#include "config.h"

#include <stdint.h>

#include "core/base64.h"

static int	b64_value(enum base64_alphabet, unsigned char);

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
base64_encoded_len(enum base64_alphabet a, size_t n)
{
	if (a == BASE64_STD)
		return (n + 2) / 3 * 4;
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
base64_decoded_max(size_t n)
{
	return (n + 3) / 4 * 3;
}

int
base64_encode(enum base64_alphabet a, const void *in, size_t n, char *out,
    size_t outsz)
{
	const unsigned char	*p = in;
	const char		*tab = a == BASE64_STD ? b64_std : b64_url;
	size_t			 i, o = 0;
	uint32_t		 v;

	if (outsz < base64_encoded_len(a, n) + 1)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (a == BASE64_STD) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		if (a == BASE64_STD)
			out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

static int
b64_value(enum base64_alphabet a, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (a == BASE64_STD ? '+' : '-'))
		return 62;
	if (c == (a == BASE64_STD ? '/' : '_'))
		return 63;
	return -1;
}

int
base64_decode(enum base64_alphabet a, const char *in, size_t n, void *out,
    size_t outsz, size_t *outlen)
{
	unsigned char	*q = out;
	uint32_t	 acc = 0;
	size_t		 i, o = 0, pad = 0, chars = 0;
	int		 v;

	if (a == BASE64_STD) {
		while (n > 0 && in[n - 1] == '=' && pad < 2) {
			n--;
			pad++;
		}
		if (pad > 0 && (n + pad) % 4 != 0)
			return -1;
	}
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		v = b64_value(a, (unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (++chars == 4) {
			if (outsz - o < 3)
				return -1;
			q[o++] = acc >> 16 & 0xff;
			q[o++] = acc >> 8 & 0xff;
			q[o++] = acc & 0xff;
			acc = 0;
			chars = 0;
		}
	}
	if (chars == 2) {
		/* The 4 low bits carry nothing and must be zero. */
		if ((acc & 0xf) != 0 || outsz - o < 1)
			return -1;
		q[o++] = acc >> 4 & 0xff;
	} else if (chars == 3) {
		if ((acc & 0x3) != 0 || outsz - o < 2)
			return -1;
		q[o++] = acc >> 10 & 0xff;
		q[o++] = acc >> 2 & 0xff;
	}
	*outlen = o;
	return 0;
}
