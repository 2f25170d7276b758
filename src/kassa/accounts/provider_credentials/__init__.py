"""An account's own provider credentials (Stripe, PayPal, Braintree, mock): stored encrypted
with KASSA_SECRET_KEY, write-only, one active set per (account, provider kind, mode).

    models.py   the ``provider_credentials`` table
    display.py  what may be shown of them: non-secret fields, hints of secrets
    manage.py   create, list, retrieve, update, delete on behalf of a principal
    source.py   the registry's ``CredentialsSource``: the decrypted credentials a call uses
    schemas.py  the API's view
    errors.py   the codes the use cases raise
"""
