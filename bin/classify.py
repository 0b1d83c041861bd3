#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.predict: see `predict.py --help`."""

from virnucpro.cli.predict import main

if __name__ == "__main__":
    main()
