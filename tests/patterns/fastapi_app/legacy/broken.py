"""A module whose import fails, as an app with a missing dependency does."""

import a_module_that_is_not_installed  # type: ignore[import-not-found]  # noqa: F401
