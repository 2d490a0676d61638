"""Monitoring: tasks."""
