"""`codec info FILE [--json]`: header, codec fields, sections and the rate in the media's unit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import JsonOpt, echo_json, echo_tree


def info(
    file: Annotated[Path, typer.Argument(help="any neural-codec file")],
    json_out: JsonOpt = False,
) -> None:
    """Show a file's header, its codec's fields, section sizes and rate."""
    from codec import api

    d = api.open(file, check_cost=False).describe()  # a file too costly to decode can still be described
    if json_out:
        echo_json(d)
    else:
        echo_tree(d)
