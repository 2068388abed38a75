"""Number types for the settings models (feature spec, action catalogue, configuration).

pydantic reads ``true``/``false`` as 1/0 where a number is expected, so ``budget: true``
would silently become a budget of 1. `Int` and `Float` refuse booleans with the error
pydantic gives for any other non-number; `Float` refuses NaN and infinities too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AllowInfNan, BeforeValidator
from pydantic_core import PydanticCustomError


def _number(kind: str, expected: str) -> BeforeValidator:
    def refuse_bool(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(kind, expected)
        return value

    return BeforeValidator(refuse_bool)


Int = Annotated[int, _number("int_type", "Input should be a valid integer")]
#: A finite number: no setting means anything with NaN or an infinity.
Float = Annotated[
    float, _number("float_type", "Input should be a valid number"), AllowInfNan(False)
]
