#ifndef IMAGESKIT_CRYPTO_SHIM_H
#define IMAGESKIT_CRYPTO_SHIM_H

#include <openssl/evp.h>
#include <openssl/hmac.h>

#endif
