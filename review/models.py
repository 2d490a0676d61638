"""Review: models."""
