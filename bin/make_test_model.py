#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.make_test_model: see `make_test_model.py --help`."""

from virnucpro.cli.make_test_model import main

if __name__ == "__main__":
    main()
