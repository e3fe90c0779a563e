"""authn layer."""
