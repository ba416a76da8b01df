// The driver itself lives in libFuzzer, linked in by -sanitize=fuzzer; this target only
// publishes its declaration to Swift.
#include "CImagesKitFuzzDriver.h"
