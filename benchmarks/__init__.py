"""Benchmarks, a fault soak and a crash harness: measured against a reference in the same run.

Each benchmark is a module run with ``python -m benchmarks.<name>`` and ends with one line
``ratio=<x> target=<y> PASS|FAIL``; ``docs/benchmarks.md`` says how to run each and keeps the
results. Shared code (simulators in a subprocess, people, the ratio line) is in
``benchmarks.harness``; ``tests/test_benchmarks_tiny.py`` runs every benchmark at a tiny size.
"""
