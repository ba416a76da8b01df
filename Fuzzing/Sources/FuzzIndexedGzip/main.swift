import FuzzSupport

runLibFuzzer(fuzzIndexedGzipDecoder)
