"""`mimic train`: train a generator (or text2pose) on video pairs and synthetic pairs.

Distributed runs start under torchrun (`torchrun --nproc_per_node=2 $(which mimic) train ...`;
`mimic.training.distributed` opens the process group)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from mimic.errors import OptionError

from .options import CacheDirOption, DeviceOption, check_device


def parse_overrides(pairs: list[str]) -> dict:
    """`["width=32", "lr=2e-4", "name=x"]` -> `{"width": 32, "lr": 0.0002, "name": "x"}`: each
    value read as JSON when it parses, else kept as a string. OptionError without `=`."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"--config takes KEY=VALUE, got {pair!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except ValueError:
            overrides[key.strip()] = value
    return overrides


def train(
    generator: Annotated[str, typer.Option("--generator", help="What to train: a name from the training registry (lwgan, pg2, patn, spt, text2pose ...).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: checkpoints, losses.csv, samples/. Resumes when it holds a checkpoint.", show_default=False)],
    videos: Annotated[Optional[Path], typer.Option("--videos", help="Folder of videos of one person each: pairs of frames (iPER protocol).")] = None,
    images: Annotated[Optional[Path], typer.Option("--images", help="Folder of images whose crops texture and back the synthetic people.")] = None,
    max_video_frames: Annotated[Optional[int], typer.Option("--max-video-frames", help="Use only the first frames of each video.", min=2)] = None,
    synthetic_fraction: Annotated[float, typer.Option("--synthetic-fraction", help="Share of synthetic pairs when --videos is given.", min=0.0, max=1.0)] = 0.5,
    pair_pool: Annotated[
        int,
        typer.Option("--pair-pool", help="Make this many pairs once, keep them in the cache folder and train on them (a step is then the network's alone); 0: make every pair when it is used.", min=0),
    ] = 0,
    min_fit_iou: Annotated[
        float,
        typer.Option("--min-fit-iou", help="Train only on pool pairs whose target mesh overlaps the target's person mask by this IoU or more (leaves out failed fits); 0: all.", min=0.0, max=1.0),
    ] = 0.0,
    sources: Annotated[
        int,
        typer.Option("--sources", help="Source views of each pair's target: 2 or more add other frames of the clip and the synthetic person seen from behind (the LWGAN's attention learns from them).", min=1, max=4),
    ] = 1,
    steps: Annotated[int, typer.Option("--steps", help="Total optimisation steps.", min=1)] = 10000,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pairs per step (per process under torchrun).", min=1)] = 8,
    size: Annotated[int, typer.Option("--size", help="Side of the square training canvas, pixels.", min=32)] = 256,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate (the model config's `lr`) [default: the model's].")] = None,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="Steps between checkpoints.", min=1)] = 500,
    sample_every: Annotated[int, typer.Option("--sample-every", help="Steps between sample image grids (0: none).", min=0)] = 500,
    keep: Annotated[int, typer.Option("--keep", help="Checkpoints to keep.", min=1)] = 3,
    device: DeviceOption = "cpu",
    cache_dir: CacheDirOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data and of the networks' initialisation.")] = 0,
    config: Annotated[Optional[list[str]], typer.Option("--config", help="Model config field KEY=VALUE; repeat for several.")] = None,
    init: Annotated[
        Optional[Path],
        typer.Option("--init", help="Start from the weights and config of this checkpoint folder (fine-tuning; fresh optimizers, step 0). --config changes its config; resuming --out wins."),
    ] = None,
) -> None:
    """Train a generator; resumes from the newest checkpoint in --out after an interruption."""
    from mimic.tasks.train import train_model
    from mimic.training.data_options import DataOptions
    from mimic.training.distributed import rank_device
    from mimic.training.trainer import TrainOptions

    overrides = parse_overrides(config or [])
    if lr is not None:
        overrides["lr"] = lr
    device = check_device(rank_device(device))
    data = DataOptions(
        batch_size=batch_size, size=size, seed=seed, videos=videos, images=images,
        synthetic_fraction=synthetic_fraction if videos is not None else 1.0,
        cache_dir=cache_dir, max_video_frames=max_video_frames, progress=True, pool=pair_pool, min_fit_iou=min_fit_iou,
        sources=sources,
    )
    options = TrainOptions(steps=steps, checkpoint_every=checkpoint_every, sample_every=sample_every, keep=keep, progress=True)
    run = train_model(
        generator, out, data, options, overrides, init, device,
        on_resume=lambda folder, step: typer.echo(f"resuming from step {step} ({folder})"),
    )
    if run.rank != 0:
        return
    result, seconds = run.result, run.seconds
    done = result.steps - result.start_step
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items())
    rate = f" ({done / seconds:.2f} steps/s)" if done else ""
    typer.echo(f"trained {generator} from step {result.start_step} to {result.steps} in {seconds:.1f} s{rate}" + (f"; last losses: {losses}" if losses else ""))
    typer.echo(f"wrote {result.checkpoint}")
