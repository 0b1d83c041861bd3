#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.models: see `model_cache.py --help`."""

from virnucpro.cli.models import main_cache

if __name__ == "__main__":
    main_cache()
