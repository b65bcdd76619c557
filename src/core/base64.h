/*
 * Base64 (RFC 4648): the standard alphabet with padding, as PEM and gRPC
 * binary metadata use, and the URL alphabet without padding, as JOSE does.
 * Decoding is strict: any byte outside the alphabet, bad padding or
 * non-zero trailing bits is an error.
 */
#ifndef CORE_BASE64_H
#define CORE_BASE64_H

#include <stddef.h>

enum base64_alphabet {
	BASE64_STD,		/* +/ with = padding */
	BASE64_URL,		/* -_ without padding */
};

/* Characters the encoding of n bytes takes, without a terminating NUL. */
size_t	 base64_encoded_len(enum base64_alphabet, size_t n);
/* Most bytes a decoding of n characters can give. */
size_t	 base64_decoded_max(size_t n);

/*
 * Encodes n bytes into out and NUL-terminates it. 0, or -1 when outsz is
 * smaller than base64_encoded_len() + 1.
 */
int	 base64_encode(enum base64_alphabet, const void *in, size_t n,
	    char *out, size_t outsz) __attribute__((warn_unused_result));

/*
 * Decodes n characters into out (outsz bytes) and stores the length.
 * 0, or -1 on malformed input or a short out. With BASE64_STD, padding
 * may be missing too (gRPC senders may omit it).
 */
int	 base64_decode(enum base64_alphabet, const char *in, size_t n,
	    void *out, size_t outsz, size_t *outlen)
	    __attribute__((warn_unused_result));

#endif
