"""Embedding models: loaders for each architecture, behind one registry."""
