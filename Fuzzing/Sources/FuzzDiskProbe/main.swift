import FuzzSupport

runLibFuzzer(fuzzDiskProbe)
