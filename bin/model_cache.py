#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.model_cache: see `model_cache.py --help`."""

from virnucpro.cli.model_cache import main

if __name__ == "__main__":
    main()
