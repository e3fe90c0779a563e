"""sealtrace: the composition root (CLI, demo) that wires the layers together.

Only this package may import every layer; see docs/architecture.md.
"""

__version__ = "0.1.0"
