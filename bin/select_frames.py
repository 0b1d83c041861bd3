#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.select_frames: see `select_frames.py --help`."""

from virnucpro.cli.select_frames import main

if __name__ == "__main__":
    main()
