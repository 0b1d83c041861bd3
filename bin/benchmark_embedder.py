#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.compare: see `benchmark_embedder.py --help`."""

from virnucpro.cli.compare import main_benchmark

if __name__ == "__main__":
    main_benchmark()
