"""Monitoring: admin."""
