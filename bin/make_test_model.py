#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.models: see `make_test_model.py --help`."""

from virnucpro.cli.models import main_test_model

if __name__ == "__main__":
    main_test_model()
