"""A POSTed Open311 request → the message the worker turns into a ticket."""

from __future__ import annotations

import pytest

from connectors.open311.inbound import Open311InputError, is_token, parse_service_request

SERVICES = {"urban_management", "utilities"}


def fields(**values: str) -> dict[str, list[str]]:
    base = {"service_code": ["urban_management"], "address_string": ["卫东区光明路128号"],
            "description": ["井盖丢失"]}
    base.update({name: [value] for name, value in values.items()})
    return base


def test_a_request_becomes_a_standalone_message_with_its_service_and_place():
    message = parse_service_request(fields(first_name="德华", last_name="刘", phone="138-3751-2345",
                                           account_id="u42"), client="city-app", services=SERVICES)
    assert message.channel == "open311" and is_token(message.native_id)
    assert message.sender_id == "city-app:u42"
    assert message.text == "井盖丢失\n（地点：卫东区光明路128号）"
    assert message.contact.name == "刘德华" and message.contact.phone == "13837512345"
    assert message.metadata["force_ticket"] is True
    assert message.metadata["department_hint"] == "urban_management"
    assert message.metadata["open311"]["description"] == "井盖丢失"


def test_coordinates_alone_are_a_place():
    message = parse_service_request(fields(address_string="", lat="33.7453", long="113.1925"), client="a",
                                    services=SERVICES)
    assert message.metadata["open311"]["lat"] == pytest.approx(33.7453)
    assert "33.745300,113.192500" in message.text


@pytest.mark.parametrize(("values", "status"), [
    ({"service_code": ""}, 400), ({"service_code": "weather"}, 404), ({"address_string": ""}, 400),
    ({"lat": "33.7"}, 400), ({"lat": "nan", "long": "113"}, 400), ({"lat": "91", "long": "113"}, 400),
    ({"description": " "}, 400), ({"description": "长" * 4001}, 400), ({"phone": "12345"}, 400),
    ({"email": "not-mail"}, 400), ({"media_url": "javascript:alert(1)"}, 400), ({"attribute[size]": "big"}, 400),
    ({"secret_field": "x"}, 400),
])
def test_bad_requests_are_refused_with_the_spec_status(values, status):
    with pytest.raises(Open311InputError) as refused:
        parse_service_request(fields(**values), client="a", services=SERVICES)
    assert refused.value.status == status and refused.value.description


def test_a_field_given_twice_is_refused():
    with pytest.raises(Open311InputError):
        parse_service_request({**fields(), "service_code": ["utilities", "urban_management"]}, client="a",
                              services=SERVICES)
