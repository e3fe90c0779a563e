"""mobile_api layer."""
