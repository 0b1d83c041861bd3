"""Embedding: the models, frames to pooled vectors, feature files, the model cache and speed."""
