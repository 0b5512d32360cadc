"""dualdb's benchmarks: the same workloads through the raw drivers, dualdb and SQLAlchemy.

Run ``python -m benchmarks --help`` from the repository root; see ``docs/readme-benchmarks.md``.
"""
