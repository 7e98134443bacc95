"""The ``dev-dashboard`` pattern: the running app at a glance, at ``/_rainmaker``."""
