"""Benchmarks: each ``bench_*`` module has a ``main()``; ``python -m bench`` runs them all."""
