#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.embed: see `embed_dna.py --help`."""

from virnucpro.cli.embed import main_dna

if __name__ == "__main__":
    main_dna()
