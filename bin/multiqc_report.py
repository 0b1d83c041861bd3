#!/usr/bin/env python3
"""Thin wrapper over virnucpro.cli.multiqc_report: see `multiqc_report.py --help`."""

from virnucpro.cli.multiqc_report import main

if __name__ == "__main__":
    main()
