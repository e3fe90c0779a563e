"""The web console for officers, brand owners and registry admins (server-rendered HTML + SVG)."""

from pathlib import Path

from console.routes import router

STATIC = Path(__file__).parent / "static"

__all__ = ["STATIC", "router"]
