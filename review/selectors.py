"""Review: selectors."""
