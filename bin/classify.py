#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.classify: see `classify.py --help`."""

from virnucpro.cli.classify import main

if __name__ == "__main__":
    main()
