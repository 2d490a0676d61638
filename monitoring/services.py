"""Monitoring: services."""
