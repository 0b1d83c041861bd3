#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.make_tiny_models: see `make_tiny_models.py --help`."""

from virnucpro.cli.make_tiny_models import main

if __name__ == "__main__":
    main()
