"""verifier layer."""
