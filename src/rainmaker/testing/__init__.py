"""Testing helpers for apps and pattern authors.

- :mod:`rainmaker.testing.harness`: build an app from a composition given as Python data.
- :mod:`rainmaker.testing.servers`: skip (locally) or fail (under ``CI=true``) when a real
  server a test needs is not running.
- :mod:`rainmaker.testing.browser`: serve an app on a loopback port (``served(app)``) and
  open it in headless Chromium (``chromium(tmp_path)``).
- :mod:`rainmaker.testing.proxy`: a loopback TCP proxy a test can stop and restart, to
  take a server away and bring it back.
- :mod:`rainmaker.testing.contracts`: capability contract suites every provider must pass.
"""
