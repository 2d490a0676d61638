"""Review: tasks."""
