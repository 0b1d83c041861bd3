#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.compare_embedders: see `compare_embedders.py --help`."""

from virnucpro.cli.compare_embedders import main

if __name__ == "__main__":
    main()
