"""`codec latents show|edit|traverse`: look at a QLAE file's codes, change them, see what a dim does.

codec latents show img.qla
codec latents edit img.qla --set 3=7 -o img-edited.qla
codec latents traverse --model shapes3d --dim 3 -o grid.png
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from codec.cli.common import DataDirOpt, ForceOpt, JsonOpt, check_output, echo_json
from codec.errors import InvalidInput

latents_app = typer.Typer(no_args_is_help=True, help="Show, edit and traverse QLAE latent codes.")


def _open(path: Path):
    from codec import api
    from codec.container import LatentMedia

    f = api.open(path)
    if not isinstance(f.container.media, LatentMedia):
        raise InvalidInput(f"{path.name} is a {f.codec.name} file, not a latents (qlae) file")
    return f


def _data_dir(data_dir: str | None):
    from codec.datadir import resolve_data_dir, use_data_dir

    return use_data_dir(resolve_data_dir(data_dir))


@latents_app.command("show")
def show(
    file: Annotated[Path, typer.Argument(help="a .qla file")],
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Print each image's codes, and what each dim holds (from the model's training record)."""
    from codec.latents.edit import show as show_codes

    f = _open(file)
    with _data_dir(data_dir):
        d = show_codes(f.container, f.config)
    if json_out:
        echo_json(d)
        return
    typer.echo(
        f"{file.name}: {d['images']} image(s), {d['dims']} dims x {d['levels']} levels, model {d['model']}"
    )
    typer.echo("dims: " + ", ".join(f"{m['dim']}={m['factor'] or '?'}" for m in d["meaning"]))
    for item in d["items"]:
        typer.echo(f"{item['name']}: {' '.join(str(x) for x in item['codes'])}")


@latents_app.command("edit")
def edit(
    file: Annotated[Path, typer.Argument(help="a .qla file")],
    set_: Annotated[list[str], typer.Option("--set", help="DIM=VALUE: give dim DIM code VALUE (repeatable)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the edited file to write")],
    item: Annotated[
        list[int] | None,
        typer.Option("--item", help="edit only this image (0-based, repeatable; default: all)"),
    ] = None,
    force: ForceOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a copy of FILE with some codes changed (the rest of each image stays as it was)."""
    from codec import container
    from codec.latents.decode import parse_sets
    from codec.latents.edit import edit as edit_codes

    sets = parse_sets(set_)
    check_output(output, force)
    f = _open(file)
    with _data_dir(data_dir):
        c = edit_codes(f.container, f.config, sets, item)
    n = container.write_file(output, c)
    typer.echo(f"wrote {output} ({n} bytes): {', '.join(f'dim {d} = {v}' for d, v in sets)}")


@latents_app.command("traverse")
def traverse(
    model: Annotated[str, typer.Option("--model", help="the latent model: NAME or NAME@vN")],
    dim: Annotated[int, typer.Option("--dim", help="the dim to sweep through all its values")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the grid to write (.png)")],
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="start from this .qla file's images (else samples of the model's data)"),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", help="images to start from (grid rows)")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="which samples to start from")] = 0,
    force: ForceOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Draw a grid: each row one image, each column one value of --dim."""
    from codec.device import pick_device
    from codec.io.image import write_image
    from codec.latents.decode import open_codes
    from codec.latents.edit import base_codes, dim_meanings, traverse_grid
    from codec.latents.zoo import load_model
    from codec.models import default_store

    if output.suffix.lower() != ".png":
        raise InvalidInput(f"{output.name}: the grid is written as a .png")
    check_output(output, force)
    with _data_dir(data_dir):
        m = load_model(model, default_store(), pick_device("cpu"))
        decoded = None
        if from_file is not None:
            f = _open(from_file)
            decoded = open_codes(f.container, f.config)
            if decoded.model.manifest.sha256 != m.manifest.sha256:
                raise InvalidInput(
                    f"{from_file.name} was encoded with {decoded.model.manifest.spec}, not {m.manifest.spec}"
                )
        img = traverse_grid(m, dim, base_codes(m, rows, seed, decoded))
    write_image(output, img)
    meaning = dim_meanings(m)[dim].factor or "no known factor"
    typer.echo(
        f"wrote {output}: dim {dim} ({meaning}) through {m.levels} values, {rows} rows, {m.manifest.spec}"
    )


def mount(app: typer.Typer) -> None:
    app.add_typer(latents_app, name="latents")
