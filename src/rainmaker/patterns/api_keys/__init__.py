"""The ``api-keys`` pattern: personal API keys (shown once, hashed, scoped, expiring,
rotated with overlap) that authenticate through ``rainmaker.http``'s auth dependencies."""
