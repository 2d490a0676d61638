"""Review: admin."""
