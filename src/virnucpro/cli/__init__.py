"""Command-line interfaces: one Typer command per pipeline step.

Each step's command lives in its own module and is used twice: alone by the
matching ``bin/`` script (what Nextflow modules call) and as a subcommand of the
``virnucpro`` console script.
"""
