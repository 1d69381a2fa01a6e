"""What the benchmarks, the fault soak and the crash harness share."""
