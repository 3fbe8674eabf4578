"""Nodes for `chain.py`, imported relatively (proves the package context is right)."""

from __future__ import annotations

from typing_extensions import TypedDict


class State(TypedDict, total=False):
    text: str


def shout(state: State) -> State:
    return {"text": state.get("text", "").upper()}
