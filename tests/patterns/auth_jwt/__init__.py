"""Tests of the auth-jwt pattern."""
