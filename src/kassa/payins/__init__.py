"""Pay-ins: payments, refunds, payment methods, customers, reconciliation."""
