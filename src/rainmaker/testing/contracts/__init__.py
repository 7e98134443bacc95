"""Capability contract suites: the behaviour every provider of a capability must show.

A provider's test module subclasses the suite and supplies one fixture describing how to
compose it; the embedded and the production providers run the same tests, which is what
makes switching between them a one-line change in a profile.

One module per capability, each importing its own dependencies (so this package imports
none of them): :mod:`.auth` (``AuthContract``), :mod:`.cache` (``CacheContract``),
:mod:`.database` (``DatabaseContract``), :mod:`.http` (``HttpContract``),
:mod:`.jobs` (``JobsContract``), :mod:`.mailer` (``MailerContract``), :mod:`.payments`
(``PaymentsContract``) and :mod:`.storage` (``StorageContract``).
"""
