"""The HTTP framework pattern ``framework-fastapi``: one FastAPI app serving every pattern.

Importing this package is cheap: only :mod:`.pattern` and :mod:`.settings` are light; the
module that imports FastAPI (:mod:`.module`) loads when an app actually builds the pattern.
"""
