"""Capability contract suites: the behaviour every provider of a capability must show.

A provider's test module subclasses the suite and supplies one fixture describing how to
compose it; the embedded and the production providers run the same tests, which is what
makes switching between them a one-line change in a profile.
"""
