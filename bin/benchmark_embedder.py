#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.benchmark_embedder: see `benchmark_embedder.py --help`."""

from virnucpro.cli.benchmark_embedder import main

if __name__ == "__main__":
    main()
