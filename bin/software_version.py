#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.software_version: see `software_version.py --help`."""

from virnucpro.cli.software_version import main

if __name__ == "__main__":
    main()
