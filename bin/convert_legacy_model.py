#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.convert_legacy_model: see `convert_legacy_model.py --help`."""

from virnucpro.cli.convert_legacy_model import main

if __name__ == "__main__":
    main()
