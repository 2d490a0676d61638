"""Response: admin."""
