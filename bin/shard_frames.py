#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.shard_frames: see `shard_frames.py --help`."""

from virnucpro.cli.shard_frames import main

if __name__ == "__main__":
    main()
