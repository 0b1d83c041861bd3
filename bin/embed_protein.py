#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.embed_protein: see `embed_protein.py --help`."""

from virnucpro.cli.embed_protein import main

if __name__ == "__main__":
    main()
