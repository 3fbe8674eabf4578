"""What `GET /runs/{run_id}/webhooks` answers: the run's deliveries and every attempt of each."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec


class WebhookAttempt(msgspec.Struct):
    attempt: int  # 1 for the first
    started_at: datetime | None  # None (and no duration) for an attempt whose process stopped midway
    duration_ms: float | None
    status_code: int | None  # the receiver's answer; None when there was none
    error: str | None  # no answer (timeout, refused connection, refused host...), else None
    response: str | None  # the start of the answer's body


class WebhookDelivery(msgspec.Struct):
    webhook_id: str  # the `webhook-id` header of every attempt: the run's id
    run_id: uuid.UUID
    url: str
    # pending: waits for its next attempt; sending: an attempt is under way; delivered: a receiver
    # answered 2xx; failed: no attempt is left (or the answer or the URL left no point in retrying).
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: list[WebhookAttempt]
    next_attempt_at: datetime | None  # when a pending delivery is tried again
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> WebhookDelivery:
        return cls(
            webhook_id=str(row.run_id),
            run_id=row.run_id,
            url=row.url,
            status=row.status,
            attempts=msgspec.convert(row.history, list[WebhookAttempt]),
            next_attempt_at=row.due_at if row.status == "pending" else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
