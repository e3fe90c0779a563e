"""The web console for officers, brand owners and registry admins (server-rendered HTML + SVG)."""

from mobile_api.console.routes import router

__all__ = ["router"]
