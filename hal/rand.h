/*
 * Randomness for serial numbers, nonces, tokens and key IDs: the kernel's
 * CSPRNG through getrandom(2). Safe from any thread.
 */
#ifndef HAL_RAND_H
#define HAL_RAND_H

#include <stddef.h>

/* Fills buf; 0, or -1 (logged) when the kernel refused. */
int	rand_bytes(void *buf, size_t len) __attribute__((warn_unused_result));

#endif
