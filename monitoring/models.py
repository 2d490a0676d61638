"""Monitoring: models."""
