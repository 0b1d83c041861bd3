#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.classifier: see `convert_legacy_model.py --help`."""

from virnucpro.cli.classifier import main_legacy

if __name__ == "__main__":
    main_legacy()
