"""issuer layer."""
