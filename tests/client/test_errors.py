"""
Tests for pserv.client.errors.
"""

from pserv.client.errors import ClientError, UnreachableError, is_transient


def test_client_error_names_the_field():
    """A ClientError reads 'field: error' when the region blamed a field, else just the error."""
    assert str(ClientError(400, "must be a number", "power_parameters.port")) == "power_parameters.port: must be a number"
    assert str(ClientError(404, "no such node")) == "no such node"
    assert ClientError(409, "busy").status == 409


def test_transient_errors_are_no_answer_and_5xx():
    """Only an unreachable region or a 5xx is worth polling again."""
    assert is_transient(UnreachableError("refused"))
    assert is_transient(ClientError(503, "restarting"))
    assert not is_transient(ClientError(404, "no such action"))
    assert not is_transient(ValueError("bug"))
