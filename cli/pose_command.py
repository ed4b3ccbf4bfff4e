"""`mimic pose`: make the person in a photo take a pose described in words."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mimic.errors import OptionError

from .options import BodyModelOption, CacheDirOption, DeviceOption, GeneratorOption, ModelDirOption, NakedBodyOption, check_device, clothes


def pose(
    text: Annotated[str, typer.Option("--text", "-t", help='The pose in words, e.g. "a man raising both arms above his head".', show_default=False)],
    source: Annotated[Path, typer.Option("--source", "-s", help="Photo of the person to pose.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output image (.png or .jpg).")] = Path("mimic_pose.png"),
    samples: Annotated[int, typer.Option(help="Poses to draw for the sentence; above 1 the output is a grid (skeletons above results).", min=1, max=16)] = 1,
    to_text: Annotated[
        Optional[str],
        typer.Option("--to-text", help="A second sentence: the output is the strip of poses for sentences interpolated from --text to this one.", show_default=False),
    ] = None,
    steps: Annotated[int, typer.Option(help="Poses in the --to-text strip, the two sentences included.", min=2, max=16)] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the pose noise (same seed, same poses).")] = 0,
    checkpoint: Annotated[
        Optional[Path], typer.Option(help="A text2pose checkpoint folder from `mimic train` [default: the model shipped with mimic].")
    ] = None,
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels.", min=32)] = 256,
    generator: GeneratorOption = "warp",
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    naked_body: NakedBodyOption = False,
    device: DeviceOption = "cpu",
) -> None:
    """Make the person in the source photo take the pose described by --text (text -> pose -> image)."""
    import numpy as np
    import torch

    from mimic.core.progress import spinner, track
    from mimic.media.images import read_image, write_image
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import Imitator, ImitatorConfig
    from mimic.registry import GeneratorOptions, load_generator
    from mimic.tasks.pose import check_text, interpolated_texts, load_text2pose, pose_person
    from mimic.text2pose.drawing import draw_skeleton
    from mimic.text2pose.pose_text import embed_pose_texts
    from mimic.text2pose.text_encoder import SentenceEncoder

    text = check_text(text)
    if to_text is not None:
        to_text = check_text(to_text)
        if samples != 1:
            raise OptionError("--to-text draws one pose per interpolation step; leave --samples at 1")
    device = check_device(device)
    photo = read_image(source)
    text2pose = load_text2pose(checkpoint, device)
    with spinner("reading the sentence"):
        embeddings = embed_pose_texts(SentenceEncoder.load(device=device), [text] if to_text is None else [text, to_text])
    if to_text is None:
        texts = embeddings.expand(samples, -1)
    else:  # one noise for the whole strip: only the sentence changes along it
        texts = interpolated_texts(embeddings[0], embeddings[1], steps)
        samples = steps
    noise = text2pose.noise(1 if to_text is not None else samples, torch.Generator().manual_seed(seed)).expand(samples, -1)
    generated = text2pose.keypoints(texts, noise)
    body = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    imitator = Imitator(body, load_generator(generator, GeneratorOptions(device=device)), ImitatorConfig(size=size, clothes=clothes(naked_body)), device)
    with spinner("preparing the source person"):
        subject = imitator.prepare([photo])
    results = [pose_person(imitator, subject, keypoints) for keypoints in track(generated, "posing", total=samples)]
    if samples == 1:
        grid = results[0].image
    else:
        skeletons = [draw_skeleton(r.image // 3, r.keypoints) for r in results]
        grid = np.concatenate((np.concatenate(skeletons, 1), np.concatenate([r.image for r in results], 1)), 0)
    write_image(out, grid)
    error = sum(r.fit_error for r in results) / len(results)
    asked = repr(text) if to_text is None else f"{text!r} -> {to_text!r}"
    typer.echo(f"{samples} pose{'s' * (samples != 1)} for {asked}; body fitted to the generated keypoints within {error:.1f} px")
    typer.echo(f"wrote {out}")
