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


_encoder = msgspec.json.Encoder(enc_hook=json_default)


def dumps(obj: Any) -> bytes:
    return _encoder.encode(obj)


# For Litestar's `type_encoders`: it looks encoders up along the value's MRO.
TYPE_ENCODERS: dict[Any, Any] = {BaseModel: encode_pydantic, set: list, frozenset: list}
