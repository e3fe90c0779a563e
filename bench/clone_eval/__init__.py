"""Supply-chain simulator and clone-detection evaluation of the verifier (docs/detection.md)."""
