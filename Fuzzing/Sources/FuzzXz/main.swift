import FuzzSupport

runLibFuzzer(fuzzXzDecoder)
