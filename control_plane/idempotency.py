"""`Idempotency-Key` on creating POSTs: the same key and body replay the first answer.

The creation and the record of its answer commit together; when two requests race
on one key, the loser's creation rolls back and it replays the winner's answer.
"""

import hashlib
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from rest_framework.response import Response

from .errors import Invalid
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _body_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder).encode()).hexdigest()


def _replay(record: IdempotencyRecord, body_hash: str) -> Response:
    if record.body_hash != body_hash:
        raise Invalid(
            f"{HEADER} '{record.key}' was already used with a different body.",
            code="idempotency_key_reused",
            details={HEADER: ["Reused with a different request body."]},
        )
    return Response(record.response_body, status=record.response_status, headers={"Idempotent-Replayed": "true"})


def idempotent(request, create: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return create()
    if len(key) > 255:
        raise Invalid(f"{HEADER} is longer than 255 characters.", details={HEADER: ["Too long."]})
    scope = f"{request.method} {request.path}"
    body_hash = _body_hash(request.data)
    existing = IdempotencyRecord.objects.filter(user=request.user, scope=scope, key=key).first()
    if existing is not None:
        return _replay(existing, body_hash)
    try:
        with transaction.atomic():
            response = create()
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.create(
                    user=request.user,
                    scope=scope,
                    key=key,
                    body_hash=body_hash,
                    response_status=response.status_code,
                    response_body=json.loads(json.dumps(response.data, cls=DjangoJSONEncoder)),
                )
            return response
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(user=request.user, scope=scope, key=key).first()
        if existing is None:
            raise
        return _replay(existing, body_hash)
