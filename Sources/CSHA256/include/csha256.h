#ifndef CSHA256_H
#define CSHA256_H

#include <stddef.h>
#include <stdint.h>

/// SHA-256 (FIPS 180-4) in C: the block function with the x86 SHA extensions where the CPU has
/// them (about 1.5 GB/s), portable C otherwise. The state a caller holds between updates.
typedef struct {
    uint32_t state[8];
    uint64_t length;        /* bytes hashed so far */
    uint8_t buffer[64];     /* a partial block */
    uint32_t buffered;      /* bytes in buffer */
    uint32_t portable;      /* 1: the portable block function (no SHA extensions, or asked for) */
} csha256_context;

void csha256_init(csha256_context *context);
/// As csha256_init, with the portable block function whatever the CPU has.
void csha256_init_portable(csha256_context *context);
void csha256_update(csha256_context *context, const void *bytes, size_t count);
/// Pads, finishes and writes the 32-byte digest; the context must be initialised again to reuse it.
void csha256_final(csha256_context *context, uint8_t digest[32]);
/// 1 when the SHA extensions are used on this CPU.
int csha256_uses_sha_extensions(void);

#endif
