"""`shieldx bench shadow`: in-process, HTTP (wrk) and isolation benchmarks."""
