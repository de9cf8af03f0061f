"""`codec train embedder|latents|prior ...`: train a model into the model store, here or as a job on a server.

Training options are each task's options dataclass (`codec.embed.options.TrainEmbedderOptions`,
`codec.latents.options.TrainLatentsOptions`): the flags, their help and their checks come from it,
as a codec's encode flags come from its options. Both commands share one driver (`_train`): the
same flags for the server, the same work dir keyed by the options, the same Ctrl-C and --resume.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
EMBEDDER_KIND = "embedder.train"  # the job kinds (codec.embed.task, codec.latents.task)
LATENTS_KIND = "latents.train"
PRIOR_KIND = "prior.train"

# A local run: (options, data dir, work dir, resume, progress, cancel, command line) -> result
Runner = Callable[[Any, Path, Path, bool, Any, Any, str], Any]


def _train(
    ctx: typer.Context,
    what: str,
    kind: str,
    options_cls: type,
    run_local: Runner,
    show: Callable[[Any, bool], None],
    summary: Callable[[dict[str, float]], str],
    data_dir: str | None,
    resume: bool,
    json_out: bool,
    server: str | None,
    tls: tuple,
    help_: bool,
    name_required: bool,
) -> None:
    from codec.cli.codec_flags import class_flags, options_help, parse_options, split_args
    from codec.cli.progress import ProgressBar
    from codec.options import to_mapping

    command = f"codec train {what}"
    positional, given = split_args(ctx.args, class_flags(options_cls))
    if help_:
        typer.echo(ctx.get_help())
        typer.echo("\n" + options_help(options_cls, "Training options:"))
        return
    if positional:
        raise InvalidInput(f"{command} takes no positional arguments: see {command} --help")
    opts = parse_options(options_cls, given, command, f"{command} --help")
    if name_required and not opts.name:
        raise InvalidInput("--name NAME is required: the model is stored as NAME@vN")

    if server:
        client = connect(server, *tls)
        job_id = client.submit_job(kind, to_mapping(opts))
        with ProgressBar() as bar:
            job = client.watch_job(job_id, bar)
        info = dict(job.result_info)
        if json_out:
            echo_json({"job_id": job_id, "result_info": info})
        else:
            typer.echo(f"job {job_id} on {server}: {summary(info)}")
        return

    import hashlib

    from codec.datadir import DataDirLock, resolve_data_dir, use_data_dir
    from codec.progress import CancelToken, with_eta

    root = resolve_data_dir(data_dir)
    key = hashlib.sha256(repr((what, sorted(to_mapping(opts).items()))).encode()).hexdigest()[:16]
    work = root / "work" / f"train-{key}"
    work.mkdir(parents=True, exist_ok=True)
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    try:
        with DataDirLock(root, exclusive=False), use_data_dir(root), ProgressBar() as bar:
            r = run_local(opts, root, work, resume, with_eta(bar), cancel, f"{command} " + " ".join(ctx.args))
    except Cancelled:
        typer.echo("cancelled: checkpoint kept; rerun the same command with --resume", err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    show(r, json_out)


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
    from codec.embed.options import TrainEmbedderOptions

    def run(opts, root, work, resume, progress, cancel, command):
        from codec.embed.data import load
        from codec.embed.train import train_embedder
        from codec.models import ModelStore

        return train_embedder(
            load(opts.data), opts, progress, cancel, work, resume, ModelStore(root), command
        )

    def show(r, json_out: bool) -> None:
        if json_out:
            echo_json(
                {"model": r.spec, "knn_top1": r.knn_top1, "head_top1": r.head_top1, "seconds": r.seconds}
            )
            return
        typer.echo(f"stored {r.spec}: {r.train_items} training items, {r.epochs} epochs, {r.seconds:.0f} s")
        typer.echo(f"{'dim':>6} {'1-NN top-1':>11} {'head top-1':>11}")
        for m in r.knn_top1:
            head = f"{r.head_top1[m]:.4f}" if m in r.head_top1 else "-"
            typer.echo(f"{m:>6} {r.knn_top1[m]:>11.4f} {head:>11}")

    def summary(info: dict[str, float]) -> str:
        shown = [f"{k} {v:.4g}" for k, v in info.items() if k.startswith("knn_top1@")]
        return ", ".join(shown) or "done"

    tls = (token_file, tls_ca, tls_cert, tls_key)
    _train(ctx, "embedder", EMBEDDER_KIND, TrainEmbedderOptions, run, show, summary, data_dir, resume,
           json_out, server, tls, help_, name_required=True)  # fmt: skip


@train_app.command("latents", context_settings=DYNAMIC, options_metavar="[OPTIONS]")
def latents(
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
    """Train a QLAE latent model (or a baseline: ae, vae, vqvae), score it, store it as NAME@vN."""
    from codec.latents.options import TrainLatentsOptions

    def run(opts, root, work, resume, progress, cancel, command):
        from codec.latents.data import load
        from codec.latents.train import train_latents
        from codec.models import ModelStore

        store = ModelStore(root) if opts.name else None
        return train_latents(load(opts.data), opts, progress, cancel, work, resume, store, command)

    def show(r, json_out: bool) -> None:
        if json_out:
            echo_json({"model": r.spec, "metrics": r.metrics, "seconds": r.seconds, "steps": r.steps})
            return
        what = f"stored {r.spec}" if r.spec else "trained (not stored: no --name)"
        typer.echo(f"{what}: {r.steps} steps, {r.seconds:.0f} s")
        typer.echo("  " + ", ".join(f"{k} {v:.4g}" for k, v in r.metrics.items()))

    def summary(info: dict[str, float]) -> str:
        return (
            ", ".join(f"{k} {info[k]:.3g}" for k in ("infom", "infoe", "infoc", "recon_mse") if k in info)
            or "done"
        )

    tls = (token_file, tls_ca, tls_cert, tls_key)
    _train(ctx, "latents", LATENTS_KIND, TrainLatentsOptions, run, show, summary, data_dir, resume,
           json_out, server, tls, help_, name_required=False)  # fmt: skip


@train_app.command("prior", context_settings=DYNAMIC, options_metavar="[OPTIONS]")
def prior(
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
    """Learn a RECOMBINER image prior for one rate point (empirical Bayes) and store it as NAME@vN."""
    from codec.image.recombiner.options import TrainPriorOptions

    def run(opts, root, work, resume, progress, cancel, command):
        from codec.image.recombiner.task import train_and_store
        from codec.models import ModelStore

        return train_and_store(opts, ModelStore(root), progress, cancel, command)

    def show(r, json_out: bool) -> None:
        spec, res = r
        if json_out:
            echo_json({"model": spec, "psnr": res.psnr, "kl_bits_per_patch": res.kl_bits_per_patch,
                       "seconds": res.seconds})  # fmt: skip
            return
        what = f"stored {spec}" if spec else "trained (not stored: no --name)"
        kl, secs = res.kl_bits_per_patch, res.seconds
        typer.echo(f"{what}: {res.psnr:.2f} dB on its crops, {kl:.0f} bits of KL per patch, {secs:.0f} s")

    def summary(info: dict[str, float]) -> str:
        return ", ".join(f"{k} {info[k]:.4g}" for k in ("psnr", "kl_bits_per_patch") if k in info) or "done"

    tls = (token_file, tls_ca, tls_cert, tls_key)
    _train(ctx, "prior", PRIOR_KIND, TrainPriorOptions, run, show, summary, data_dir, resume,
           json_out, server, tls, help_, name_required=False)  # fmt: skip


def mount(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
