#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.train_classifier: see `train_classifier.py --help`."""

from virnucpro.cli.train_classifier import main

if __name__ == "__main__":
    main()
