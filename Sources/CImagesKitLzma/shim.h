#ifndef IMAGESKIT_LZMA_SHIM_H
#define IMAGESKIT_LZMA_SHIM_H

#include <stdbool.h>
#include <string.h>
#include <lzma.h>

/* LZMA_STREAM_INIT is a braced initialiser, and the flag and filter constants are built with
   UINT32_C and LZMA_VLI_C; Swift imports none of them, so the shim restates what ImagesKit uses. */

/* Puts a freshly allocated lzma_stream into the state LZMA_STREAM_INIT describes. */
static inline void imageskit_lzma_stream_clear(lzma_stream *stream) {
    const lzma_stream initial = LZMA_STREAM_INIT;
    *stream = initial;
}

/* The decoder flags ImagesKit passes: report a check type this liblzma can't verify. */
static const uint32_t imageskit_lzma_tell_unsupported_check = LZMA_TELL_UNSUPPORTED_CHECK;

/* Fills the options of a multi-threaded encoder: LZMA2 at `preset`, a new Block every `block_size`
   bytes, and a dictionary no larger than `dict_limit` nor than a Block (a Block never refers to
   bytes before it, so a larger dictionary would only take memory). `mt` keeps pointers to
   `filters` and `lzma2`. */
static inline bool imageskit_lzma_encoder_mt_setup(
    lzma_mt *mt, lzma_filter filters[2], lzma_options_lzma *lzma2,
    uint32_t preset, lzma_check check, uint32_t threads, uint64_t block_size, uint64_t dict_limit) {
    const uint64_t dict_cap = dict_limit < block_size ? dict_limit : block_size;
    if (lzma_lzma_preset(lzma2, preset)) {
        return false;
    }
    if (lzma2->dict_size > dict_cap) {
        lzma2->dict_size = (uint32_t)dict_cap;
    }
    filters[0].id = LZMA_FILTER_LZMA2;
    filters[0].options = lzma2;
    filters[1].id = LZMA_VLI_UNKNOWN;
    filters[1].options = NULL;
    memset(mt, 0, sizeof *mt);
    mt->threads = threads;
    mt->block_size = block_size;
    mt->timeout = 0;
    mt->filters = filters;
    mt->check = check;
    return true;
}

/* Starts a multi-threaded .xz encoder with the options of imageskit_lzma_encoder_mt_setup. */
static inline lzma_ret imageskit_lzma_encoder_mt(
    lzma_stream *stream, uint32_t preset, lzma_check check, uint32_t threads, uint64_t block_size,
    uint64_t dict_limit) {
    lzma_mt mt;
    lzma_filter filters[2];
    lzma_options_lzma lzma2;
    if (!imageskit_lzma_encoder_mt_setup(&mt, filters, &lzma2, preset, check, threads, block_size, dict_limit)) {
        return LZMA_OPTIONS_ERROR;
    }
    return lzma_stream_encoder_mt(stream, &mt);
}

/* The bytes of memory imageskit_lzma_encoder_mt needs with these options, or UINT64_MAX. */
static inline uint64_t imageskit_lzma_encoder_mt_memusage(
    uint32_t preset, uint32_t threads, uint64_t block_size, uint64_t dict_limit) {
    lzma_mt mt;
    lzma_filter filters[2];
    lzma_options_lzma lzma2;
    if (!imageskit_lzma_encoder_mt_setup(
            &mt, filters, &lzma2, preset, LZMA_CHECK_CRC64, threads, block_size, dict_limit)) {
        return UINT64_MAX;
    }
    return lzma_stream_encoder_mt_memusage(&mt);
}

/* Starts a multi-threaded .xz decoder. It runs blocks on up to `threads` threads while their
   buffers and dictionaries fit in `threading_limit` bytes, falling back to one thread for a block
   that alone needs more; it refuses, with LZMA_MEMLIMIT_ERROR, a block whose dictionary needs
   more than `stop_limit` bytes. */
static inline lzma_ret imageskit_lzma_decoder_mt(
    lzma_stream *stream, uint32_t threads, uint64_t threading_limit, uint64_t stop_limit, uint32_t flags) {
    lzma_mt mt;
    memset(&mt, 0, sizeof mt);
    mt.flags = flags;
    mt.threads = threads;
    mt.timeout = 0;
    mt.memlimit_threading = threading_limit < stop_limit ? threading_limit : stop_limit;
    mt.memlimit_stop = stop_limit;
    return lzma_stream_decoder_mt(stream, &mt);
}

#endif
