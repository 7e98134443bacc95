"""Built-in patterns, one package per family, each laid out the same way:

``pattern.py`` (the :class:`~rainmaker.Pattern` declaration, light to import),
``settings.py`` (the settings model), ``module.py`` (the running module, where heavy
dependencies are imported) and, when the pattern owns tables, ``migrations/``.
"""
