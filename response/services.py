"""Response: services."""
