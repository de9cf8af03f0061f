"""`codec train embedder ...`: train a model into the model store, here or as a job on a server.

Training options are the task's options dataclass (`codec.embed.train.TrainEmbedderOptions`): the
flags, their help and their checks come from it, as a codec's encode flags come from its options.
"""

from __future__ import annotations

import signal

import typer

from codec.cli.common import (
    DYNAMIC,
    DataDirOpt,
    HelpOpt,
    JsonOpt,
    OptionalServerOpt,
    TlsCaOpt,
    TlsCertOpt,
    TlsKeyOpt,
    TokenFileOpt,
    connect,
    echo_json,
)
from codec.errors import Cancelled, InvalidInput

train_app = typer.Typer(no_args_is_help=True, help="Train models into the model store.")
EMBEDDER_KIND = "embedder.train"  # the job kind (codec.embed.task)


@train_app.command("embedder", context_settings=DYNAMIC, options_metavar="[OPTIONS]")
def embedder(
    ctx: typer.Context,
    data_dir: DataDirOpt = None,
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run of the same command"),
    json_out: JsonOpt = False,
    server: OptionalServerOpt = None,
    token_file: TokenFileOpt = None,
    tls_ca: TlsCaOpt = None,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    help_: HelpOpt = False,
) -> None:
    """Train a Matryoshka embedder (images or texts) and store it as NAME@vN."""
    from codec.cli.codec_flags import class_flags, options_help, parse_options, split_args
    from codec.cli.progress import ProgressBar
    from codec.embed.options import TrainEmbedderOptions
    from codec.options import to_mapping

    positional, given = split_args(ctx.args, class_flags(TrainEmbedderOptions))
    if help_:
        typer.echo(ctx.get_help())
        typer.echo("\n" + options_help(TrainEmbedderOptions, "Training options:"))
        return
    if positional:
        raise InvalidInput(
            "codec train embedder takes no positional arguments: see codec train embedder --help"
        )
    opts = parse_options(TrainEmbedderOptions, given, "codec train embedder", "codec train embedder --help")
    if not opts.name:
        raise InvalidInput("--name NAME is required: the model is stored as NAME@vN")

    if server:
        client = connect(server, token_file, tls_ca, tls_cert, tls_key)
        job_id = client.submit_job(EMBEDDER_KIND, to_mapping(opts))
        with ProgressBar() as bar:
            job = client.watch_job(job_id, bar)
        info = dict(job.result_info)
        if json_out:
            echo_json({"job_id": job_id, "result_info": info})
        else:
            typer.echo(f"job {job_id} on {server}: {_summary(info)}")
        return

    import hashlib

    from codec.datadir import DataDirLock, resolve_data_dir
    from codec.embed.data import load
    from codec.embed.train import train_embedder
    from codec.models import ModelStore
    from codec.progress import CancelToken, with_eta

    root = resolve_data_dir(data_dir)
    key = hashlib.sha256(repr(sorted(to_mapping(opts).items())).encode()).hexdigest()[:16]
    work = root / "work" / f"train-{key}"
    work.mkdir(parents=True, exist_ok=True)
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        with DataDirLock(root, exclusive=False), ProgressBar() as bar:
            ds = load(opts.data)
            command = "codec train embedder " + " ".join(ctx.args)
            r = train_embedder(ds, opts, with_eta(bar), cancel, work, resume, ModelStore(root), command)
    except Cancelled:
        typer.echo("cancelled: checkpoint kept; rerun the same command with --resume", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    if json_out:
        echo_json({"model": r.spec, "knn_top1": r.knn_top1, "head_top1": r.head_top1, "seconds": r.seconds})
        return
    typer.echo(f"stored {r.spec}: {r.train_items} training items, {r.epochs} epochs, {r.seconds:.0f} s")
    typer.echo(f"{'dim':>6} {'1-NN top-1':>11} {'head top-1':>11}")
    for m in r.knn_top1:
        head = f"{r.head_top1[m]:.4f}" if m in r.head_top1 else "-"
        typer.echo(f"{m:>6} {r.knn_top1[m]:>11.4f} {head:>11}")


def _summary(info: dict[str, float]) -> str:
    shown = [f"{k} {v:.4g}" for k, v in info.items() if k.startswith("knn_top1@")]
    return ", ".join(shown) or "done"


def mount(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
