"""Who may call what: bearer tokens, their roles, and the one table of methods by role.

A caller sends ``authorization: Bearer <token>``. The server knows each token only by its
SHA-256 (the tokens file, ``auth_tokens_file``, holds digests, never tokens) and compares a
request's digest with every known one by ``hmac.compare_digest``, without stopping at a match,
so neither the comparison nor the position of a match shows in the time a call takes.

- no ``authorization`` metadata, or not one ``Bearer <token>``, or a token not in the file:
  UNAUTHENTICATED;
- a known token whose role is not in the method's row of :data:`METHOD_ROLES`: PERMISSION_DENIED;
- health checks need no token (load balancers probe without one).

A method missing from the table is refused to every role (fail closed);
``tests/integration/test_security.py`` checks that every served method has its row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

import grpc

from engine.errors import SourcingError


class Role(StrEnum):
    CALLER = "caller"  # an OMS, ERP or storefront: decide, allocate, the order lifecycle, reads
    PLANNER = "planner"  # rule sets: validate, activate, roll back; reads and Source (what-if)
    OPERATOR = "operator"  # everything, network and stock writes included


EVERY_ROLE = frozenset(Role)
CALLERS = frozenset({Role.CALLER, Role.OPERATOR})
PLANNERS = frozenset({Role.PLANNER, Role.OPERATOR})
OPERATORS = frozenset({Role.OPERATOR})

_V1 = "/oms.sourcing.v1."

# Every method and the roles that may call it: the one place this is decided
# (docs/configuration.md, "Authentication and roles", shows the same table).
METHOD_ROLES: Mapping[str, frozenset[Role]] = MappingProxyType(
    {
        # Decides only, reserves nothing: planners try what their rules do.
        f"{_V1}SourcingService/Source": EVERY_ROLE,
        f"{_V1}SourcingService/Promise": EVERY_ROLE,
        f"{_V1}SourcingService/PromiseProducts": EVERY_ROLE,
        # Orders: the lifecycle is the callers'.
        f"{_V1}OrderService/Allocate": CALLERS,
        f"{_V1}OrderService/Cancel": CALLERS,
        f"{_V1}OrderService/Release": CALLERS,
        f"{_V1}OrderService/ConfirmShipment": CALLERS,
        f"{_V1}OrderService/Reallocate": CALLERS,
        f"{_V1}OrderService/AllocateBatch": CALLERS,
        f"{_V1}OrderService/Return": CALLERS,
        f"{_V1}OrderService/GetOrder": EVERY_ROLE,
        f"{_V1}OrderService/ListOrders": EVERY_ROLE,
        f"{_V1}OrderService/ListExceptions": EVERY_ROLE,
        f"{_V1}OrderService/WatchEvents": EVERY_ROLE,
        # Overrides a rule's hold (a fraud score, say): not for a storefront's own token.
        f"{_V1}OrderService/ReleaseHold": OPERATORS,
        # Maintenance and a whole-store scan: operations' tools.
        f"{_V1}OrderService/SweepExpired": OPERATORS,
        f"{_V1}OrderService/CheckConservation": OPERATORS,
        # Moves many customers' holds at once, before a release wave: an operations decision.
        f"{_V1}OrderService/ReoptimizePending": OPERATORS,
        # The network and its stock: every decision trusts them, so writes are operators'.
        f"{_V1}NetworkService/ListNodes": EVERY_ROLE,
        f"{_V1}NetworkService/GetAvailability": EVERY_ROLE,
        f"{_V1}NetworkService/UpsertNodes": OPERATORS,
        f"{_V1}NetworkService/UpsertItems": OPERATORS,
        f"{_V1}NetworkService/UpsertSkuAliases": OPERATORS,
        f"{_V1}NetworkService/ListSkuAliases": EVERY_ROLE,
        f"{_V1}NetworkService/UpsertItemUnits": OPERATORS,
        f"{_V1}NetworkService/ListItemUnits": EVERY_ROLE,
        f"{_V1}NetworkService/UpdateInventory": OPERATORS,
        f"{_V1}NetworkService/ListRateTables": EVERY_ROLE,
        f"{_V1}NetworkService/UpsertRateTables": OPERATORS,
        f"{_V1}NetworkService/ListHolidayCalendars": EVERY_ROLE,
        f"{_V1}NetworkService/UpsertHolidayCalendars": OPERATORS,
        f"{_V1}NetworkService/ListCarrierServices": EVERY_ROLE,
        f"{_V1}NetworkService/UpsertCarrierServices": OPERATORS,
        f"{_V1}NetworkService/ListNodeSchedules": EVERY_ROLE,
        f"{_V1}NetworkService/UpsertNodeSchedules": OPERATORS,
        # Rules: planners change them.
        f"{_V1}RulesService/GetRuleSet": EVERY_ROLE,
        f"{_V1}RulesService/ValidateRules": PLANNERS,
        f"{_V1}RulesService/ActivateRules": PLANNERS,
        f"{_V1}RulesService/RollbackRules": PLANNERS,
    }
)
# Reflection (when served at all: off in production) describes the API to any valid token.
REFLECTION_PREFIX = "/grpc.reflection."
# Reachable without a token: a load balancer's probe carries none.
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/",)

# RFC 6750's b64token: what a bearer token may be made of.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def roles_for(method: str) -> frozenset[Role]:
    if method.startswith(REFLECTION_PREFIX):
        return EVERY_ROLE
    return METHOD_ROLES.get(method, frozenset())


def token_digest(token: str) -> str:
    """What the tokens file holds for ``token``: the SHA-256 of its UTF-8 bytes, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """256 random bits, URL-safe base64 (a valid bearer token as it is)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    """Whom a token stands for: a name (for logs, never secret) and a role."""

    name: str
    role: Role


class TokensFileError(SourcingError, ValueError):
    """The tokens file is unreadable or a line is malformed; the message names file and line."""


class Tokens:
    """The known tokens, by SHA-256 digest only."""

    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self._entries = tuple((bytes.fromhex(digest), principal) for digest, principal in entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(principal.name for _, principal in self._entries)

    @classmethod
    def read(cls, path: str | Path) -> Tokens:
        """Lines of ``ROLE NAME SHA256-HEX``; ``#`` starts a comment. Names and digests are unique.

        A bad line is reported by number only: it may hold a token pasted by mistake.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise TokensFileError(f"auth_tokens_file {path}: {reason}") from None
        entries: list[tuple[str, Principal]] = []
        names: set[str] = set()
        digests: set[str] = set()
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            where = f"auth_tokens_file {path} line {number}"
            if len(words) != 3:
                raise TokensFileError(f"{where}: expected ROLE NAME SHA256-HEX")
            role, name, digest = words
            if role not in EVERY_ROLE:
                raise TokensFileError(f"{where}: role must be one of {', '.join(Role)}")
            if not _DIGEST.fullmatch(digest):
                raise TokensFileError(
                    f"{where}: the third field must be the token's SHA-256 in lowercase hex (the file holds"
                    " digests, never tokens: oms-sourcing new-token writes the line)"
                )
            if name in names or digest in digests:
                raise TokensFileError(f"{where}: name or digest already given on an earlier line")
            names.add(name)
            digests.add(digest)
            entries.append((digest, Principal(name, Role(role))))
        if not entries:
            raise TokensFileError(f"auth_tokens_file {path}: no tokens (every call would be refused)")
        return cls(entries)

    def identify(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for known, principal in self._entries:  # every entry, match or not: constant time
            if hmac.compare_digest(digest, known):
                found = principal
        return found


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call is refused. Never holds the token; the message is one of a few per method."""

    code: grpc.StatusCode
    message: str


MISSING = Refusal(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token: send 'authorization: Bearer <token>'")
MALFORMED = Refusal(
    grpc.StatusCode.UNAUTHENTICATED, "malformed authorization metadata: expected one 'authorization: Bearer <token>'"
)
UNKNOWN = Refusal(grpc.StatusCode.UNAUTHENTICATED, "unknown bearer token")


def bearer_token(metadata: Sequence[tuple[str, str | bytes]]) -> str | Refusal:
    values = [value for key, value in metadata if key == "authorization"]
    if not values:
        return MISSING
    if len(values) > 1 or not isinstance(values[0], str):
        return MALFORMED
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() != "bearer" or not TOKEN_PATTERN.fullmatch(token):
        return MALFORMED
    return token


def authorize(
    tokens: Tokens, method: str, metadata: Sequence[tuple[str, str | bytes]]
) -> tuple[Principal | None, Refusal | None]:
    """(who is calling, why the call is refused); both None for a public method."""
    if method.startswith(PUBLIC_PREFIXES):
        return None, None
    token = bearer_token(metadata)
    if isinstance(token, Refusal):
        return None, token
    principal = tokens.identify(token)
    if principal is None:
        return None, UNKNOWN
    allowed = roles_for(method)
    if principal.role in allowed:
        return principal, None
    needed = ", ".join(role for role in Role if role in allowed) or "a role (this method has none: a bug)"
    denied = f"role {principal.role} may not call {method.lstrip('/')}; it needs {needed}"
    return principal, Refusal(grpc.StatusCode.PERMISSION_DENIED, denied)
