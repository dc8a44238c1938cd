"""The generic address grammar: raw Unicode stays readable; structural characters are encoded."""

from __future__ import annotations

import pytest

from drivers.address import AddressError, split


@pytest.mark.parametrize(
    "text",
    [
        "opcua://UA1/ns=2;s=换热站1.供水温度",
        "mqtt://BROKER1/热网/一号站/state#/供水/温度",
        "modbus://PLC1/1/hr/100?type=float32&order=CDAB",
        "mqtt://B/a%2Fb/c?qos=1#/x%23y",
        "opcua://UA1/ns=2;s=with%20space%3Fand%25",
    ],
)
def test_canonical_text_round_trips(text: str) -> None:
    assert str(split(text)) == text
    assert split(str(split(text))) == split(text)


def test_unicode_is_kept_raw_and_structural_characters_are_encoded() -> None:
    address = split("opcua://UA1/ns=2;s=泵%2F1%23A")
    assert address.segments == ("ns=2;s=泵/1#A",)
    assert str(address) == "opcua://UA1/ns=2;s=泵%2F1%23A"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("PLC1/1/hr/0", "expected scheme://device/path"),
        ("modbus:///1/hr/0", "missing device name"),
        ("modbus://PLC1/1?type", "must be key=value"),
        ("modbus://PLC1/1?type=a&type=b", "given twice"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(AddressError, match=fragment):
        split(text)
