"""Imports a module that does not exist."""

import aegra_no_such_module  # noqa: F401

graph = None
