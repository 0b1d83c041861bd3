#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.evaluate_classifier: see `evaluate_classifier.py --help`."""

from virnucpro.cli.evaluate_classifier import main

if __name__ == "__main__":
    main()
