#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.models: see `make_tiny_models.py --help`."""

from virnucpro.cli.models import main_tiny

if __name__ == "__main__":
    main_tiny()
