#ifndef IMAGESKIT_CRYPTO_SHIM_H
#define IMAGESKIT_CRYPTO_SHIM_H

#include <openssl/evp.h>

#endif
