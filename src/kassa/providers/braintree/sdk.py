"""The braintree SDK, imported once without the DeprecationWarnings its own modules raise
at import time (they are about fields kassa never uses)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import braintree  # type: ignore[import-untyped]
    from braintree.exceptions.http.connection_error import (  # type: ignore[import-untyped]
        ConnectionError as SdkConnectionError,
    )
    from braintree.exceptions.http.timeout_error import (  # type: ignore[import-untyped]
        ConnectTimeoutError,
        ReadTimeoutError,
    )
    from braintree.exceptions.http.timeout_error import (
        TimeoutError as SdkTimeoutError,
    )

__all__ = [
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "SdkConnectionError",
    "SdkTimeoutError",
    "braintree",
]
