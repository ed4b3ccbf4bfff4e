"""The one training loop of `mimic train`, for every `Trainable`.

Steps, checkpoints every N steps (and at the end), automatic resume from the newest checkpoint
in the output folder (at most the last interval is lost), losses appended to `losses.csv`,
sample image grids `samples/step-<n>.png` from the model's optional `samples(batch)` hook, a
progress bar. Distributed: when `torch.distributed` is initialised (`mimic.training.distributed`
under `torchrun`), every network of `model.nets` is wrapped in DistributedDataParallel, the data is
this rank's shard, losses are averaged over ranks, and only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from mimic.core.progress import track
from mimic.core.trainable import Trainable
from mimic.errors import OptionError
from mimic.media.files import write_text_atomic
from mimic.training.checkpoint import latest_checkpoint, load_nets, load_training_state, load_weights, restore_rng, save_checkpoint

__all__ = ["TrainOptions", "TrainResult", "train", "LOSSES_FILE", "SAMPLES_DIR"]

LOSSES_FILE = "losses.csv"
SAMPLES_DIR = "samples"


@dataclass
class TrainOptions:
    """steps: total optimisation steps (a resumed run stops there too). checkpoint_every,
    sample_every: intervals in steps (0: only the final checkpoint / no samples). keep: how
    many checkpoints to keep. progress: draw a progress bar (rank 0)."""

    steps: int
    checkpoint_every: int = 500
    sample_every: int = 0
    keep: int = 3
    progress: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise OptionError(f"steps must be at least 1, got {self.steps}")
        if self.checkpoint_every < 0 or self.sample_every < 0 or self.keep < 1:
            raise OptionError("checkpoint and sample intervals must be >= 0 and keep >= 1")


@dataclass
class TrainResult:
    """start_step: where this run began (0, or the step it resumed from). steps: where it ended.
    checkpoint: the last checkpoint written. losses: the last step's losses (averaged over ranks)."""

    start_step: int
    steps: int
    checkpoint: Path | None
    losses: dict[str, float]


def train(
    model: Trainable,
    batches: Callable[[int], Iterable],
    out_dir: Path,
    options: TrainOptions,
    device: torch.device | str = "cpu",
) -> TrainResult:
    """Trains `model` for `options.steps` steps, resuming from the newest checkpoint in `out_dir`.

    Args:
        model: a Trainable whose networks and optimizers live on `device`.
        batches: `start -> iterable` of this rank's batches from batch index `start` on (one per
            step); a batch with a `.to(device)` method is moved to `device`.
        out_dir: checkpoints, `losses.csv` and `samples/` go here (rank 0 only).
        options: steps and intervals.
    Returns:
        TrainResult. Raises OptionError when `out_dir` holds a checkpoint of another model or
        config, or when the batches run out before the last step.
    """
    out_dir = Path(out_dir)
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)
    writer = rank == 0
    if writer:
        out_dir.mkdir(parents=True, exist_ok=True)
    start = _resume(model, out_dir)
    if writer and start == 0:
        (out_dir / LOSSES_FILE).unlink(missing_ok=True)
    plain = dict(model.nets)
    if world > 1:
        device_ids = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else None
        for name, net in plain.items():
            model.nets[name] = nn.parallel.DistributedDataParallel(net, device_ids=device_ids)
    log = _LossLog(out_dir / LOSSES_FILE, start) if writer else None
    checkpoint = latest_checkpoint(out_dir)
    losses: dict[str, float] = {}
    step = start
    try:
        data = iter(batches(start))
        steps = range(start, options.steps)
        for step in track(steps, f"training {model.name}", total=len(steps), enabled=options.progress and writer):
            batch = _next_batch(data, step)
            batch = batch.to(device) if hasattr(batch, "to") else batch
            for net in model.nets.values():
                net.train()
            losses = _mean_over_ranks(model.train_step(batch, step), world)
            done = step + 1
            if log is not None:
                log.append(done, losses)
            if writer and options.sample_every and done % options.sample_every == 0:
                _write_samples(model, plain, batch, out_dir, done)
            if options.checkpoint_every and done % options.checkpoint_every == 0 or done == options.steps:
                if writer:
                    checkpoint = save_checkpoint(out_dir, model.name, model.config, plain, model.optimizers(), done, options.keep)
                if world > 1:
                    dist.barrier()
    finally:
        model.nets.clear()
        model.nets.update(plain)
    return TrainResult(start, max(start, options.steps), checkpoint, losses)


def _resume(model: Trainable, out_dir: Path) -> int:
    """Loads the newest checkpoint of `out_dir` into `model` (weights, optimizers, RNG); its step, or 0."""
    newest = latest_checkpoint(out_dir)
    if newest is None:
        return 0
    name, config, weights = load_weights(newest)
    if name != model.name:
        raise OptionError(f"'{out_dir}' holds a checkpoint of generator {name!r}, not {model.name!r}; choose another --out")
    if config != _json_round_trip(asdict(model.config)):
        raise OptionError(f"'{out_dir}' holds a checkpoint of {name!r} with another config ({config}); choose another --out or the same --config")
    load_nets(model, weights, newest)
    state = load_training_state(newest)
    optimizers = model.optimizers()
    if set(state["optimizers"]) != set(optimizers):
        raise OptionError(f"'{newest}' holds optimizers {sorted(state['optimizers'])}, the model has {sorted(optimizers)}")
    for key, optimizer in optimizers.items():
        optimizer.load_state_dict(state["optimizers"][key])
    restore_rng(state["rng"])
    return int(state["step"])


def _json_round_trip(value: dict) -> dict:
    """`value` as it reads back from JSON (tuples become lists)."""
    import json

    return json.loads(json.dumps(value))


def _next_batch(data: Iterator, step: int):
    try:
        return next(data)
    except StopIteration:
        raise OptionError(f"the training data ran out at step {step}; give more data or fewer --steps") from None


def _mean_over_ranks(losses: dict[str, float], world: int) -> dict[str, float]:
    """The losses as floats, averaged over the ranks of the process group when `world > 1`."""
    names = sorted(losses)
    if world == 1 or not names:
        return {k: float(losses[k]) for k in names}
    values = torch.tensor([float(losses[k]) for k in names], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        values = values.cuda()
    dist.all_reduce(values)
    return {k: float(v) / world for k, v in zip(names, values.tolist())}


@contextlib.contextmanager
def _plain_nets(model: Trainable, plain: dict[str, nn.Module]) -> Iterator[None]:
    """`model.nets` without their DDP wrappers for the block (a rank-0-only forward must not
    wait for the other ranks), in eval mode, without gradients."""
    wrapped = dict(model.nets)
    model.nets.update(plain)
    try:
        for net in plain.values():
            net.eval()
        with torch.no_grad():
            yield
    finally:
        model.nets.update(wrapped)


def _write_samples(model: Trainable, plain: dict[str, nn.Module], batch, out_dir: Path, step: int) -> None:
    """`samples/step-<n>.png` from the model's `samples(batch)` hook, if it has one: a
    `(3, H, W)` or `(N, 3, H, W)` image in [-1, 1] (N images are tiled in a grid)."""
    hook = getattr(model, "samples", None)
    if hook is None:
        return
    from mimic.media.images import write_image

    with _plain_nets(model, plain):
        images = hook(batch)
    grid = image_grid(images)
    folder = out_dir / SAMPLES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / f"step-{step:08d}.png", grid)


def image_grid(images: torch.Tensor, columns: int | None = None):
    """`(N, 3, H, W)` (or `(3, H, W)`) in [-1, 1] -> `(rows*H, columns*W, 3)` uint8 RGB tiling,
    `columns` per row (default: about square)."""
    import math

    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"samples must be (N, 3, H, W) or (3, H, W), got {tuple(images.shape)}")
    count, _, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = images.new_full((rows * columns, 3, height, width), -1.0)
    canvas[:count] = images.detach().float()
    canvas = canvas.view(rows, columns, 3, height, width).permute(0, 3, 1, 4, 2).reshape(rows * height, columns * width, 3)
    return ((canvas.clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()


class _LossLog:
    """`losses.csv`: one row per step (`step`, then the losses by name). Resuming drops rows
    past the checkpoint; a loss name that first appears later widens the header."""

    def __init__(self, path: Path, start: int) -> None:
        self.path = path
        self.columns: list[str] = []
        self.rows: list[dict[str, str]] = []
        if path.is_file():
            with path.open(newline="") as file:
                reader = csv.DictReader(file)
                self.columns = [c for c in reader.fieldnames or [] if c != "step"]
                self.rows = [row for row in reader if int(row["step"]) <= start]
            self._rewrite()

    def append(self, step: int, losses: dict[str, float]) -> None:
        row = {"step": str(step), **{k: f"{v:.6g}" for k, v in losses.items()}}
        self.rows.append(row)
        new = [k for k in losses if k not in self.columns]
        if new or not self.path.is_file():
            self.columns += new
            self._rewrite()
            return
        with self.path.open("a", newline="") as file:
            csv.DictWriter(file, ["step", *self.columns]).writerow(row)

    def _rewrite(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, ["step", *self.columns])
        writer.writeheader()
        writer.writerows(self.rows)
        write_text_atomic(self.path, text.getvalue())
