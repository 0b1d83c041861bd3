#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.embed: see `embed_protein.py --help`."""

from virnucpro.cli.embed import main_protein

if __name__ == "__main__":
    main_protein()
