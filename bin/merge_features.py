#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.merge_features: see `merge_features.py --help`."""

from virnucpro.cli.merge_features import main

if __name__ == "__main__":
    main()
