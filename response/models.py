"""Response: models."""
