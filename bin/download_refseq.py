#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.download_refseq: see `download_refseq.py --help`."""

from virnucpro.cli.download_refseq import main

if __name__ == "__main__":
    main()
