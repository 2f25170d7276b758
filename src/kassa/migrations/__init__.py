"""Alembic migrations, shipped inside the package so `kassa migrate` works wherever it runs."""
