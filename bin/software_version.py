#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.versions: see `software_version.py --help`."""

from virnucpro.cli.versions import main

if __name__ == "__main__":
    main()
