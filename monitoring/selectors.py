"""Monitoring: selectors."""
