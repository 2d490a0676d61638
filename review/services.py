"""Review: services."""
