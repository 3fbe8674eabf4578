"""JSON encoding shared by every layer: LangChain messages and other pydantic models,
dataclasses, UUIDs, datetimes (msgspec handles the last three natively)."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel


def encode_pydantic(model: BaseModel) -> Any:
    # mode="json" turns nested non-JSON values (datetimes, enums, bytes) into JSON types too.
    return model.model_dump(mode="json")


def json_default(obj: Any) -> Any:
    """msgspec `enc_hook`: the types msgspec does not know, or a clear error."""
    if isinstance(obj, BaseModel):
        return encode_pydantic(obj)
    if isinstance(obj, set | frozenset):
        return list(obj)
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    to_dict = getattr(obj, "_asdict", None) or getattr(obj, "to_json", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"cannot encode objects of type {type(obj).__name__} as JSON")


def lenient_default(obj: Any) -> Any:
    """For run stream events: whatever a graph emits must not end the run, so what JSON
    cannot carry goes out as its `repr` (as langgraph-api's serializer does)."""
    try:
        return json_default(obj)
    except TypeError:
        return repr(obj)


_encoder = msgspec.json.Encoder(enc_hook=json_default)
_lenient_encoder = msgspec.json.Encoder(enc_hook=lenient_default)


def dumps(obj: Any) -> bytes:
    return _encoder.encode(obj)


def dumps_lenient(obj: Any) -> bytes:
    return _lenient_encoder.encode(obj)


# For Litestar's `type_encoders`: it looks encoders up along the value's MRO.
TYPE_ENCODERS: dict[Any, Any] = {BaseModel: encode_pydantic, set: list, frozenset: list}
