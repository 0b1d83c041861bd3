#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.embed_dna: see `embed_dna.py --help`."""

from virnucpro.cli.embed_dna import main

if __name__ == "__main__":
    main()
