#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.classifier: see `evaluate_classifier.py --help`."""

from virnucpro.cli.classifier import main_evaluate

if __name__ == "__main__":
    main_evaluate()
