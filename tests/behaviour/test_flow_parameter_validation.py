"""`Flow.should_validate_parameters` and `Flow.validate_parameters(parameters)`, as Prefect 2.20
has them: the `validate_parameters=` option is kept under the first name, and the method casts
parameters to the function's annotations."""

from __future__ import annotations

import pytest

from executor import Flow, flow
from executor.exceptions import ParameterTypeError, SignatureMismatchError

pytestmark = pytest.mark.timeout(30)


def add(x: int, y: list[float] | None = None) -> int:
    return x


def test_should_validate_parameters_keeps_the_option():
    assert flow(add).should_validate_parameters is True
    off = flow(add, validate_parameters=False)
    assert off.should_validate_parameters is False
    assert Flow(add, validate_parameters=False).should_validate_parameters is False
    assert off.with_options(validate_parameters=True).should_validate_parameters is True
    assert callable(off.validate_parameters)  # the method, whatever the option


def test_validate_parameters_casts_to_the_annotated_types():
    f = flow(add)
    assert f.validate_parameters({"x": "3", "y": ["1.5", 2]}) == {"x": 3, "y": [1.5, 2.0]}


def test_validate_parameters_refuses_wrong_types_and_unknown_names():
    f = flow(add)
    with pytest.raises(ParameterTypeError, match="Flow run received invalid parameters"):
        f.validate_parameters({"x": "three"})
    with pytest.raises(SignatureMismatchError, match="Function expects parameters"):
        f.validate_parameters({"x": 1, "z": 2})
