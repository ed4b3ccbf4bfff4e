"""LWGAN benchmark: per-frame inference time, personalization time and training steps/s.

    PYTHONPATH=. python benchmarks/generator.py [--threads 2] [--sizes 256,512] [--skip-personalize]

Inference is the per-frame work of the pipeline's generator (the sources encoded once, then the
transfer stream per frame), on the CPU and on CUDA where available, for the default
configuration and the GPU one. Personalization runs `mimic video`'s default on a shared photo
(reads ../shared/data; skipped with a message when absent). Training steps are
`LWGANTrainable.train_step` on a batch of 4 pairs (the network's cost only, no data loading).
Prints markdown tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from mimic.core.pairs import PairBatch
from mimic.networks.lwgan import LWGAN, LWGANConfig
from mimic.networks.lwgan_training import LWGANTrainable, LWGANTrainConfig
from warping.sampler import identity_grid

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def random_pair(size: int, batch: int) -> PairBatch:
    """Pairs of the right shapes with a person-sized box covered (timing does not depend on the
    pictures)."""
    generator = torch.Generator().manual_seed(0)
    image = lambda: torch.rand(batch, 3, size, size, generator=generator) * 2 - 1  # noqa: E731
    mask = torch.zeros(batch, 1, size, size)
    mask[..., size // 8 : -size // 8, size // 4 : -size // 4] = 1
    correspondence = torch.cat((torch.rand(batch, 3, size, size, generator=generator) * mask, mask), 1)
    parts = torch.where(mask[:, 0] > 0, 0, -1).long()
    keypoints = torch.rand(batch, 23, 3, generator=generator) * size
    grid = identity_grid(batch, size, size) + 0.02 * torch.randn(batch, size, size, 2, generator=generator)
    return PairBatch(image(), mask, correspondence, parts, keypoints, image(), mask, correspondence, parts, keypoints, grid, mask, image() * mask, image())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def inference_ms(config: LWGANConfig, size: int, device: torch.device, sources: int = 1, repeats: int = 10) -> tuple[float, float]:
    """Wall-clock and process-CPU milliseconds per frame of the transfer stream (sources encoded
    beforehand). On a shared machine the CPU time, divided by the threads, is what an idle
    machine's wall clock would show."""
    pair = random_pair(size, sources).to(device)
    model = LWGAN(config).to(device).eval()
    with torch.no_grad():
        features, _ = model.encode_sources(pair.source_image, pair.source_correspondence, pair.source_mask)
        grids = pair.grid[None]
        visibility = pair.visibility[None]

        def frame() -> None:
            model.transfer(features, pair.source_image, grids, visibility, pair.target_correspondence[:1], pair.background[:1], pair.fill[:1])

        for _ in range(2):
            frame()
        _sync(device)
        clock, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            frame()
        _sync(device)
    return 1000 * (time.perf_counter() - clock) / repeats, 1000 * (time.process_time() - cpu) / repeats


def training_steps_per_second(config: LWGANTrainConfig, size: int, device: torch.device, steps: int = 3) -> float:
    """`train_step`s per second on batches of 4 pairs at `size`."""
    model = LWGANTrainable(config, device)
    pair = random_pair(size, 4).to(device)
    model.train_step(pair, 0)
    _sync(device)
    clock = time.perf_counter()
    for step in range(steps):
        model.train_step(pair, step + 1)
    _sync(device)
    return steps / (time.perf_counter() - clock)


def personalization(size: int, photo: Path) -> dict:
    """Runs the default personalization of `photo` with the shipped base model; its info."""
    from mimic.generators.warp_only import WarpOnlyGenerator
    from mimic.media.images import read_image
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import Imitator, ImitatorConfig
    from mimic.tasks.personalize import PersonalizeConfig, personalize, personalizing_model

    imitator = Imitator(load_body_model(), WarpOnlyGenerator(), ImitatorConfig(size=size))
    subject = imitator.prepare([read_image(photo)])
    model, _ = personalizing_model("lwgan")
    return personalize(imitator, subject, model, PersonalizeConfig())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--sizes", default="256,512", help="canvas sizes for inference")
    parser.add_argument("--skip-personalize", action="store_true", help="skip the personalization timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    configs = {"default (width 16)": LWGANConfig(), "gpu (width 64)": LWGANConfig.gpu()}
    print(f"torch threads: {torch.get_num_threads()}\n")
    print("| device | config | size | sources | wall ms/frame | frames/s | CPU ms/frame (all threads) |")
    print("|---|---|---|---|---|---|---|")
    for device in devices:
        for name, config in configs.items():
            if device.type == "cpu" and config.width > 16:
                continue
            for size in (int(s) for s in args.sizes.split(",")):
                for sources in (1, 2):
                    ms, cpu = inference_ms(config, size, device, sources)
                    print(f"| {device.type} | {name} | {size} | {sources} | {ms:.1f} | {1000 / ms:.2f} | {cpu:.1f} |")
    print("\n| device | config | size | batch | training steps/s |")
    print("|---|---|---|---|---|")
    for device in devices:
        for name, config in configs.items():
            if device.type == "cpu" and config.width > 16:
                continue
            for size in (128, 256):
                rate = training_steps_per_second(LWGANTrainConfig(generator=config), size, device)
                print(f"| {device.type} | {name} | {size} | 4 | {rate:.3f} |")
    if args.skip_personalize:
        return
    photo = SHARED / "images" / "ryota_apose.png"
    if not photo.exists():
        print(f"\npersonalization skipped: shared photo not found at {photo}")
        return
    info = personalization(256, photo)
    print("\n| personalization (256, default settings) | seconds | pair seconds | steps | L1 first | L1 last |")
    print("|---|---|---|---|---|---|")
    print(f"| {photo.name} | {info['seconds']} | {info['pair_seconds']} | {info['steps']} | {info['loss_first']} | {info['loss_last']} |")


if __name__ == "__main__":
    main()
