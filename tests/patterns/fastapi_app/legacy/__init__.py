"""A hand-written FastAPI service, as it was before Rainmaker: the fastapi-app fixture."""
