"""One contract for every pay-in adapter, run against the mock and each provider stand-in.

Each provider adds a module ``subject_<kind>.py`` here with an ``async def subject()``
context manager (``contextlib.asynccontextmanager``) that starts what it needs (a stand-in
server on loopback), yields a ``Subject`` and stops it. test_contract.py finds them all.
"""
