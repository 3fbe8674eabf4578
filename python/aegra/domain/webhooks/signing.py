"""Standard Webhooks signatures (https://www.standardwebhooks.com), made with the `standardwebhooks`
package, the one receivers verify with.

Every attempt carries `webhook-id` (the delivery's id: the same for each attempt, so a receiver
can drop repeats), `webhook-timestamp` (the attempt's time, in seconds) and `webhook-signature`:
`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, once per secret, space-separated, so that
during a rotation a receiver holding either the old or the new secret verifies it. With no secret
(or `webhooks.unsigned`) the signature header is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook


class Signer:
    def __init__(self, secrets: Sequence[str]) -> None:
        self._keys = [Webhook(secret) for secret in secrets]

    @property
    def signs(self) -> bool:
        return bool(self._keys)

    def headers(self, webhook_id: str, body: bytes, now: datetime) -> dict[str, str]:
        headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(now.timestamp()))}
        if self._keys:
            headers["webhook-signature"] = " ".join(key.sign(webhook_id, now, body) for key in self._keys)
        return headers
