"""The ``rate-limit`` pattern: named rate limit policies on the ``limits`` library (memory or
Redis counters), applied by the ``rainmaker.http.rate_limit`` dependency or by path."""
