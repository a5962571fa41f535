"""
Tests for pserv.rpc.arguments.
"""

from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pserv.rpc import wire
from pserv.rpc.arguments import MAX_VALUE, Message, encode_json, fitting_prefix, item_sizes, split_to_fit
from pserv.rpc.common import InvalidRequest, TooLarge
from pserv.rpc.messages import OutcomeReport, PowerRequest

from pserv.testing.rpc import outcome, power_request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_json_object_round_trips(value):
    """An object of any JSON values survives toString and fromString unchanged."""
    argument = Message(dict[str, Any], "value")
    assert argument.fromString(argument.toString(value)) == value


def test_message_round_trips_unicode():
    """A message with non-ASCII text round-trips, as ASCII JSON."""
    argument = Message(PowerRequest, "request")
    request = attrs.evolve(power_request(), name="nœud-é")
    data = argument.toString(request)
    assert data.isascii() and argument.fromString(data) == request


def test_message_is_its_wire_form():
    """A message argument is the compact JSON of the message's wire form."""
    assert Message(OutcomeReport, "outcome").toString(outcome()) == encode_json(wire.unstructure(outcome()))


def test_wrong_kind_is_refused_on_receipt():
    """A list where an object is expected is refused on receipt, naming the value."""
    with pytest.raises(InvalidRequest, match="request: must be an object"):
        Message(PowerRequest, "request").fromString(b"[1]")


def test_a_bad_message_is_refused_on_receipt_naming_the_field():
    """Deserialising checks the message: a field missing is InvalidRequest naming it."""
    data = wire.unstructure(outcome())
    del data["generation"]
    with pytest.raises(InvalidRequest, match="outcome: generation is missing"):
        Message(OutcomeReport, "outcome").fromString(encode_json(data))


def test_too_large_is_refused_before_sending():
    """A value over 64 KiB raises TooLarge with its size."""
    with pytest.raises(TooLarge, match="bytes"):
        Message(list[Any], "value").toString(["x" * MAX_VALUE])


def test_exactly_the_limit_fits():
    """A value of exactly MAX_VALUE bytes is accepted."""
    value = ["x" * (MAX_VALUE - 4)]
    assert len(Message(list[Any], "value").toString(value)) == MAX_VALUE


def test_nan_is_refused():
    """NaN is not JSON, either way: refused by the sender, and as InvalidRequest on receipt."""
    with pytest.raises(ValueError):
        encode_json([float("nan")])
    with pytest.raises(InvalidRequest, match="not JSON"):
        Message(list[Any], "value").fromString(b"[NaN]")


def test_fitting_prefix_counts_brackets_and_commas():
    """Two items of 3 bytes need 1 + 3 + 1 + 3 + 1 = 9 bytes."""
    assert fitting_prefix([3, 3], 9) == 2
    assert fitting_prefix([3, 3], 8) == 1
    assert fitting_prefix([3, 3], 4) == 0


@settings(max_examples=50)
@given(st.lists(st.text(max_size=5), max_size=60), st.integers(min_value=70, max_value=400))
def test_split_to_fit_keeps_order_and_fits(items, limit):
    """Batches keep every item in order, each fits, and none could have taken the next item."""
    batches = split_to_fit(items, limit)
    assert [item for batch in batches for item in batch] == items
    assert all(len(encode_json(batch)) <= limit for batch in batches)
    for batch, following in zip(batches, batches[1:]):
        assert len(encode_json(batch + following[:1])) > limit


def test_an_item_too_big_alone_is_refused():
    """split_to_fit raises TooLarge for an item that cannot fit alone."""
    with pytest.raises(TooLarge, match="item 1"):
        split_to_fit(["a", "b" * 100], 50)


def test_item_sizes():
    """item_sizes gives each item's encoded size, a message's as its wire form."""
    assert item_sizes([1, "ab", {"k": None}]) == [1, 4, 10]
    assert item_sizes([outcome()]) == [len(encode_json(wire.unstructure(outcome())))]
