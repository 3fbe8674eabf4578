"""Fails while the module runs, from a helper, so the error location is inside this file."""


def _configure() -> None:
    raise RuntimeError("missing API key")


_configure()
