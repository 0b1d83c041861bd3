#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.classifier: see `train_classifier.py --help`."""

from virnucpro.cli.classifier import main_train

if __name__ == "__main__":
    main_train()
