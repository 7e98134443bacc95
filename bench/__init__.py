"""Benchmarks beside their baselines; ``python -m bench`` runs them all (see README.md)."""
