#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.compare: see `compare_embedders.py --help`."""

from virnucpro.cli.compare import main_compare

if __name__ == "__main__":
    main_compare()
