"""Run webhooks a receiver can trust (docs/webhooks.md).

- policy.py: which URLs a webhook may name and which addresses an attempt may connect to
- signing.py: Standard Webhooks signatures
- http_client.py: one POST to a receiver
- deliverer.py: the outbox's sender: attempts, retries, leases, retention
- schemas.py: what `GET /runs/{run_id}/webhooks` answers

The outbox's SQL is db/tables/webhook_deliveries.py; a run's settle (domain/runs/settle.py)
writes its delivery.
"""
