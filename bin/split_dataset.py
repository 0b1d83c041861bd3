#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.split_dataset: see `split_dataset.py --help`."""

from virnucpro.cli.split_dataset import main

if __name__ == "__main__":
    main()
