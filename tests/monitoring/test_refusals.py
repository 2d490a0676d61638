"""Monitoring's refusals belong to the one family of crisis.errors, so views and the API
turn them into an answer the same way as the incident core's."""

from __future__ import annotations

import pytest

from crisis.errors import InvalidError, ServiceError
from monitoring import services


def test_alert_queue_refusals_are_service_errors() -> None:
    assert issubclass(services.AlertActionError, ServiceError)


def test_a_scenario_that_cannot_be_replayed_is_an_invalid_input_and_still_a_value_error() -> None:
    with pytest.raises(InvalidError) as caught:
        services.scenario_path("no-such-scenario")
    assert isinstance(caught.value, services.ScenarioError)
    assert isinstance(caught.value, ValueError)
