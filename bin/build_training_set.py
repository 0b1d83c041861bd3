#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.build_training_set: see `build_training_set.py --help`."""

from virnucpro.cli.build_training_set import main

if __name__ == "__main__":
    main()
