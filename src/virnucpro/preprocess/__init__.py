"""Preprocessing: chunks, frames, the labelled training set, the split and the shards."""
