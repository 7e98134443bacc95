"""The jobs patterns: ``jobs-local`` (embedded default), ``jobs-redis`` and ``jobs-rabbitmq``.

All three provide the :data:`~rainmaker.capabilities.Jobs` capability and pass the same
contract suite (:mod:`rainmaker.testing.contracts.jobs`). The declarations are in
:mod:`.pattern` (the entry points name them there). This package imports nothing, so
``rainmaker --help`` can load the ``rainmaker jobs`` command group (:mod:`.commands`)
without the patterns' settings models; taskiq and the broker clients load only when a
jobs module starts.
"""
