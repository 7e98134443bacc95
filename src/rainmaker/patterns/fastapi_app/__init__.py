"""The ``fastapi-app`` pattern: an existing FastAPI app or APIRouter served by Rainmaker.

Importing this package is light (the declaration and its settings only); the app it
names is imported when the HTTP app is composed.
"""

from rainmaker.patterns.fastapi_app.pattern import fastapi_app

__all__ = ["fastapi_app"]
