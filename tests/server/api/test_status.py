"""The error table (server/api/status.py): what a caller sees for the exceptions handlers raise."""

from __future__ import annotations

from google.rpc import code_pb2, error_details_pb2

from server.api.status import to_status
from server.errors import InvalidRequestError


def _bad_request(status: object) -> error_details_pb2.BadRequest:
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)  # type: ignore[attr-defined]
    return bad


def test_a_store_refusal_names_the_field_it_came_from() -> None:
    status = to_status(InvalidRequestError("is not a page token this service issued", "page_token"))
    assert status.code == code_pb2.INVALID_ARGUMENT
    assert status.message == "invalid request: page_token"
    (violation,) = _bad_request(status).field_violations
    assert (violation.field, violation.description) == ("page_token", "is not a page token this service issued")
