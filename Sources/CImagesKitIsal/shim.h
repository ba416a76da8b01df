#ifndef IMAGESKIT_ISAL_SHIM_H
#define IMAGESKIT_ISAL_SHIM_H

/* ISA-L's inflate, for decoding independent deflate chunks, and its CRC-32. */
#include <isa-l/igzip_lib.h>
#include <isa-l/crc.h>

#endif
