"""Response: tasks."""
