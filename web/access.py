"""Who may call which REST endpoint: (method, route path) → a permission group of
`core.permissions.PERMISSIONS` (the operation table's routes declare theirs; the others are
listed here).

The auth middleware checks this table before a handler runs, so a role that may not act is
refused with 403 before its input is even parsed (no validation details leak to it). The
command layer checks the same groups again for every interface (the socket API has no
middleware). A route missing from this table is refused to everybody (deny by default), and
a test checks that every route the app serves is listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from trocadero.core.operations import OPERATIONS, Operation

from .choices import choice_routes

# Reachable without an access token (login and token refresh check their own credentials).
PUBLIC: Final = frozenset(
    {
        ("POST", "/api/auth/login"),
        ("POST", "/api/auth/refresh"),
        ("POST", "/api/auth/logout"),
        ("POST", "/api/auth/password"),  # needs a token, possibly a password-change-only one
    }
)

_OTHER_ROUTES: Final[Mapping[tuple[str, str], str]] = {
    # the account itself
    ("GET", "/api/auth/me"): "read",
    # canvases, patch, outputs, nodes
    ("GET", "/api/canvases"): "read",
    ("GET", "/api/canvases/{name}/preview"): "read",
    ("GET", "/api/canvases/{name}/patch"): "read",
    ("GET", "/api/outputs"): "read",
    ("GET", "/api/sources"): "read",
    ("GET", "/api/artnet/nodes"): "read",
    # schedule
    ("POST", "/api/schedule/import"): "schedule.edit",
    # content library files (the catalogue is the operation table's)
    ("POST", "/api/content/uploads"): "content.edit",
    ("GET", "/api/content/uploads/{upload}"): "content.edit",
    ("PUT", "/api/content/uploads/{upload}"): "content.edit",
    ("DELETE", "/api/content/uploads/{upload}"): "content.edit",
    ("POST", "/api/content/uploads/{upload}/complete"): "content.edit",
    ("GET", "/api/content/{id}/thumbnail"): "read",
    # a camera's newest picture, for the blob view (its state is the operation table's)
    ("GET", "/api/cameras/{name}/snapshot.jpg"): "read",
    # MDVR recordings (the rest of the gateway is the operation table's)
    ("GET", "/api/mdvr/files/{id}/{which}"): "mdvr.footage",  # recordings, like live view
    # fault injection (tests; only mounted when [debug] fault_injection = true)
    ("POST", "/debug/fault/block-python"): "debug",
    ("POST", "/debug/fault/crash-web"): "debug",
    ("POST", "/debug/fault/crash/{subsystem}"): "debug",
    ("POST", "/debug/fault/raise"): "debug",
    ("GET", "/debug/objects"): "debug",
    ("POST", "/debug/fault/stall-clock"): "debug",
}


# The routes of the operation table (`core.operations`) carry their own permission group.
OPERATION_ROUTES: Final[Mapping[tuple[str, str], Operation]] = {
    (op.rest.method, op.rest.path): op for op in OPERATIONS if op.rest is not None
}
ROUTE_ACCESS: Final[Mapping[tuple[str, str], str]] = {
    **_OTHER_ROUTES,
    **{(op.rest.method, op.rest.path): op.group for op in OPERATIONS if op.rest is not None},
    **{(method, path): group for method, path, group, _ in choice_routes(OPERATIONS)},
}


def permission_for(method: str, path: str) -> str | None:
    """The permission group of a route (HEAD is GET's), or None when it is not listed."""
    return ROUTE_ACCESS.get(("GET" if method == "HEAD" else method, path))
