import FuzzSupport

runLibFuzzer(fuzzGzipDecoder)
