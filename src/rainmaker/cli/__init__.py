"""The ``rainmaker`` command."""
