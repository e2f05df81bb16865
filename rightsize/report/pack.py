"""Every figure of a page, and plotly.js, as compressed blocks the page unpacks itself.

A 500-workload report carried 1,000 JSON figure blocks: the same two layouts and the same trace
styles 500 times over, and numbers as base64 text that no compressor could shrink afterwards. Here
each layout and each trace style is stored once, the numbers go into one binary buffer (8-byte
aligned, so the page reads them as typed arrays in place), and the whole is gzipped; plotly.js is
gzipped too (4.6 MB -> 1.4 MB). The page's script unpacks both with the browser's own
``DecompressionStream``, runs plotly.js as an inline script whose hash the page's policy lists,
and hands plotly.js the typed arrays.

Layout: ``base64(gzip(u32 little-endian header length | header JSON | zero padding to 8 | arrays))``,
header ``{"layouts": [...], "styles": [...], "figures": {id: {"layout": i, "data": [trace]}}}``,
where a trace holds its ``style`` index and its data keys; a typed array is ``{"buf": [dtype,
byte offset into the arrays, length]}``. Only base64 characters reach the HTML: nothing in the data
can end its ``<script>`` block.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

# What differs from one workload's trace to the next; everything else is its style.
DATA_KEYS = frozenset({"x", "y", "width", "x0", "dx"})
DTYPES: dict[str, np.dtype[Any]] = {"f4": np.dtype("<f4"), "f8": np.dtype("<f8")}
ALIGN = 8


def pack(figures: Mapping[str, Mapping[str, Any]]) -> str:
    """``{id: plotly figure dict}`` -> the base64 text of one compressed payload."""
    layouts: dict[str, int] = {}
    styles: dict[str, int] = {}
    arrays = bytearray()

    def stored(value: Any) -> Any:
        if not _is_typed(value):
            return value
        raw = base64.b64decode(value["bdata"])
        arrays.extend(b"\0" * (-len(arrays) % ALIGN))
        offset = len(arrays)
        arrays.extend(raw)
        return {"buf": [value["dtype"], offset, len(raw) // DTYPES[value["dtype"]].itemsize]}

    out: dict[str, Any] = {}
    for fig_id, fig in figures.items():
        traces = []
        for trace in fig["data"]:
            style = _key({k: v for k, v in trace.items() if k not in DATA_KEYS})
            entry = {k: stored(v) for k, v in trace.items() if k in DATA_KEYS}
            entry["style"] = styles.setdefault(style, len(styles))
            traces.append(entry)
        out[fig_id] = {"layout": layouts.setdefault(_key(fig["layout"]), len(layouts)), "data": traces}
    shared = {"layouts": [json.loads(k) for k in layouts], "styles": [json.loads(k) for k in styles]}
    header = json.dumps({**shared, "figures": out}, separators=(",", ":"), allow_nan=False).encode()
    head = struct.pack("<I", len(header)) + header
    head += b"\0" * (-len(head) % ALIGN)
    return _deflate(head + bytes(arrays))


def unpack(text: str) -> dict[str, dict[str, Any]]:
    """``pack``'s payload back to figure dicts (typed arrays as plotly's ``{dtype, bdata}``)."""
    raw = gzip.decompress(base64.b64decode(text))
    (size,) = struct.unpack_from("<I", raw)
    header = json.loads(raw[4 : 4 + size])
    base = 4 + size + (-(4 + size) % ALIGN)

    def value(v: Any) -> Any:
        if not (isinstance(v, dict) and "buf" in v):
            return v
        dtype, offset, count = v["buf"]
        start = base + offset
        data = raw[start : start + count * DTYPES[dtype].itemsize]
        return {"dtype": dtype, "bdata": base64.b64encode(data).decode("ascii")}

    figures = {}
    for fig_id, fig in header["figures"].items():
        data = []
        for trace in fig["data"]:
            full = json.loads(json.dumps(header["styles"][trace["style"]]))
            full.update((k, value(v)) for k, v in trace.items() if k != "style")
            data.append(full)
        figures[fig_id] = {"data": data, "layout": header["layouts"][fig["layout"]]}
    return figures


@lru_cache(maxsize=1)
def plotly_bundle() -> tuple[str, str]:
    """``(the plotly.js that ships inside the plotly package, its gzipped base64)``: no CDN. The
    text is what the policy hashes; the page runs exactly that text once unpacked."""
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    return js, _deflate(js.encode())


def _deflate(data: bytes) -> str:
    # mtime=0: the same report twice is the same bytes
    return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")


def _is_typed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"dtype", "bdata"} and value["dtype"] in DTYPES


def _key(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
