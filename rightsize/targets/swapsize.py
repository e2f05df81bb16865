"""The swap size a writer is given: bytes, or the ``--swap`` text (``"256M"``, ``"0"``), read alike
by the CLI and the library (``patch_compose``/``check_compose``/``apply_live``'s ``swap=``)."""

from __future__ import annotations

from rightsize.errors import RightsizeError
from rightsize.units import parse_bytes

EXPECTED = "a size such as 256M (0: no swap beyond the memory limit)"


def parse_swap(value: int | str | None, what: str = "swap", expected: str = EXPECTED) -> int | None:
    """Bytes of swap beyond the memory limit; None leaves the swap as it is.

    A bare number other than 0 in text is refused: compose reads it as bytes, and ``--swap 512``
    meant as 512 MiB would quietly allow half a kilobyte."""
    if value is None:
        return None
    if not isinstance(value, str):
        if value < 0:
            raise RightsizeError(
                f"{what} {value}: a swap size cannot be negative (0: no swap beyond the limit)"
            )
        return int(value)
    text = value.strip()
    if text.startswith("-"):  # -1 (unlimited in compose) included: swap= is there to bound the swap
        raise RightsizeError(
            f"{what} {value!r}: a size cannot be negative; 0 means no swap beyond the memory limit"
        )
    try:
        size = parse_bytes(text)
    except RightsizeError:
        raise RightsizeError(f"{what} {value!r}: expected {expected}") from None
    if size and (text[-1].isdigit() or text[-1] == "."):
        raise RightsizeError(f"{what} {value!r}: give a unit (e.g. {text}M); a bare number would be bytes")
    return size
