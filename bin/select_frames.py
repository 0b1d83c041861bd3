#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.frames: see `select_frames.py --help`."""

from virnucpro.cli.frames import main

if __name__ == "__main__":
    main()
