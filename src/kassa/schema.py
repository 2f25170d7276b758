"""Every table kassa has: imports each context's models so the metadata is complete.

Alembic (autogenerate and ``alembic check``) and the test fixtures use ``metadata`` from here.
"""

from __future__ import annotations

from kassa.accounts import idempotency as idempotency_models
from kassa.accounts import models as accounts_models
from kassa.accounts.provider_credentials import models as provider_credentials_models
from kassa.chain import models as chain_models
from kassa.chain import ops_models as chain_ops_models
from kassa.core import audit
from kassa.core.db import Base
from kassa.jobs import models as jobs_models
from kassa.payins import models as payins_models
from kassa.payins.sessions import models as sessions_models
from kassa.payins.sessions import refund_models as session_refund_models
from kassa.payouts import models as payouts_models
from kassa.webhooks.inbound import models as webhooks_inbound_models
from kassa.webhooks.outbound import models as webhooks_outbound_models

metadata = Base.metadata
MODEL_MODULES = (
    payins_models,
    audit,
    accounts_models,
    provider_credentials_models,
    idempotency_models,
    jobs_models,
    webhooks_outbound_models,
    webhooks_inbound_models,
    chain_models,
    sessions_models,
    payouts_models,
    chain_ops_models,
    session_refund_models,
)
