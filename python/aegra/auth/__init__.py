"""Authentication and authorization with a `langgraph_sdk.Auth` object (`auth.path` in aegra.json).

The model is the official server's (langgraph-api applies `langgraph_sdk.Auth` the same way):
`@auth.authenticate` names the user, `@auth.on...` handlers allow, refuse or filter each action.
Aegra applies the filters inside the database queries (db/tables/), so no route can return
another user's rows.
"""

from aegra.auth.authentication import Authenticator
from aegra.auth.context import SYSTEM, RequestAuth
from aegra.auth.errors import AuthError, Forbidden
from aegra.auth.filters import Filter
from aegra.auth.loading import load_auth
from aegra.auth.users import ANONYMOUS, AuthUser

__all__ = [
    "ANONYMOUS",
    "SYSTEM",
    "AuthError",
    "AuthUser",
    "Authenticator",
    "Filter",
    "Forbidden",
    "RequestAuth",
    "load_auth",
]
