#ifndef IMAGESKIT_CRYPTO_SHIM_H
#define IMAGESKIT_CRYPTO_SHIM_H

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#endif
