"""The backend's HTTP API (FastAPI): ``create_app(config)``."""

from backend.api.app import create_app

__all__ = ["create_app"]
