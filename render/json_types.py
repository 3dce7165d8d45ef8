"""How request JSON is read: numbers must be JSON numbers, booleans JSON booleans, strings strings.

Every request model uses `STRICT` (pydantic strict mode), so `"start": true` or `"start": "0"` is a 400
naming the field rather than a silent 1.0 or 0. A whole number written with a fraction (`1280.0`, as
some JSON writers do) still counts as a whole number.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BeforeValidator, ConfigDict

STRICT: Final = ConfigDict(strict=True, allow_inf_nan=False)


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _text(value: Any) -> Any:
    """Editors write ids as numbers or strings; both are the same identifier."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]
Identifier = Annotated[str, BeforeValidator(_text)]
