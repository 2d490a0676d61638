"""Response: selectors."""
