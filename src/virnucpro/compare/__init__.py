"""The embedder comparison: paired statistics, the decision, the table and the report."""
