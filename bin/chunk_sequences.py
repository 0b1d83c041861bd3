#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.chunk_sequences: see `chunk_sequences.py --help`."""

from virnucpro.cli.chunk_sequences import main

if __name__ == "__main__":
    main()
