#ifndef CIMAGESKIT_FUZZ_DRIVER_H
#define CIMAGESKIT_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry for programs that keep their own main: parses the usual libFuzzer options
// from argc/argv and runs `callback` on every input, returning the process's exit status.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
