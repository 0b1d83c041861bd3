"""Stands in for the hub's remote code, which virnucpro never runs."""

raise RuntimeError("modeling_fastesm.py must never be imported")
