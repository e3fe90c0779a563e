"""keys layer."""
