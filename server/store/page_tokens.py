"""Opaque page tokens: the last id of a page, encoded so callers cannot forge a NUL or a foreign id."""

from __future__ import annotations

import base64
import binascii

from engine.model import control_problem
from server.errors import InvalidRequestError

_PAGE_TOKEN_PREFIX = "n1:"
MAX_PAGE_TOKEN_LENGTH = 1024
_NOT_OURS = "is not a page token this service issued"


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode((_PAGE_TOKEN_PREFIX + last_id).encode()).decode()


def decode_page_token(token: str) -> str:
    if len(token) > MAX_PAGE_TOKEN_LENGTH:  # ours are a few hundred characters; no need to decode more
        raise InvalidRequestError(_NOT_OURS, "page_token")
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidRequestError(_NOT_OURS, "page_token") from None
    # A forged token could carry a NUL, which PostgreSQL refuses as a query parameter.
    if not text.startswith(_PAGE_TOKEN_PREFIX) or control_problem(text) is not None:
        raise InvalidRequestError(_NOT_OURS, "page_token")
    return text[len(_PAGE_TOKEN_PREFIX) :]
