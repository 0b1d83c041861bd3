#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.prediction_report: see `prediction_report.py --help`."""

from virnucpro.cli.prediction_report import main

if __name__ == "__main__":
    main()
