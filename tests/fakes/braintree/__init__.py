"""A stand-in for Braintree's gateway that the official SDK talks to unchanged."""

from tests.fakes.braintree.server import FakeBraintree

__all__ = ["FakeBraintree"]
