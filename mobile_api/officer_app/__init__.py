"""The officer's handheld: an offline-first web app served under /officer (docs/mobile.md)."""

from mobile_api.officer_app.routes import router

__all__ = ["router"]
