#ifndef IMAGESKIT_ZLIB_SHIM_H
#define IMAGESKIT_ZLIB_SHIM_H

#include <zlib.h>

/* deflateInit2 and inflateInit2 are macros; Swift cannot call them directly. */
static inline int imageskit_deflate_init(z_streamp stream, int level, int window_bits) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}

static inline int imageskit_inflate_init(z_streamp stream, int window_bits) {
    return inflateInit2(stream, window_bits);
}

#endif
