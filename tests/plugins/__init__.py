"""Modules that real worker processes load with KASSA_PLUGINS in process-level tests."""
