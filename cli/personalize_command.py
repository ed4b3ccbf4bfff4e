"""`mimic personalize`: a trained generator fine-tuned to the person of a few photos, as a `.mimic` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimic.errors import OptionError

from .options import BodyModelOption, CacheDirOption, CheckpointOption, DeviceOption, ModelDirOption, NakedBodyOption, check_device, clothes

StepsOption = Annotated[int, typer.Option("--personalize-steps", help="At most this many fine-tuning steps.", min=1)]
BudgetOption = Annotated[float, typer.Option("--personalize-budget", help="Seconds personalization may take (pairs and steps).", min=1.0)]
PersonalizableOption = Annotated[str, typer.Option("--generator", help="The generator to personalize: lwgan, pg2 or patn (spt learns unpaired; it cannot be).")]


def personalize(
    source: Annotated[list[Path], typer.Option("--source", "-s", help="Photo of the person; repeat for front/back photos.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The subject file to write (.mimic).")] = Path("subject.mimic"),
    size: Annotated[int, typer.Option(help="Side of the square person crop, pixels (as `mimic video --size`).", min=32)] = 256,
    generator: PersonalizableOption = "lwgan",
    steps: StepsOption = 60,
    budget: BudgetOption = 55.0,
    checkpoint: CheckpointOption = None,
    body_model: BodyModelOption = "anny",
    model_dir: ModelDirOption = None,
    cache_dir: CacheDirOption = None,
    naked_body: NakedBodyOption = False,
    device: DeviceOption = "cpu",
) -> None:
    """Fine-tune a generator (lwgan, pg2, patn) on the photo(s) of one person (seconds to a minute) for `mimic video --subject`.

    The result is also cached: `mimic video --generator NAME` with the same photos starts at once.
    """
    from mimic.core.paths import resolve_cache_dir
    from mimic.generators.warp_only import WarpOnlyGenerator
    from mimic.media.files import copy_atomic
    from mimic.media.images import read_image
    from mimic.pipeline.body import load_body_model
    from mimic.pipeline.imitator import Imitator, ImitatorConfig
    from mimic.registry import personalization
    from mimic.tasks.personalize import PersonalizeConfig, personalized_generator
    from mimic.training.subject_file import SUBJECT_SUFFIX

    if out.suffix != SUBJECT_SUFFIX:
        raise OptionError(f"--out must end with {SUBJECT_SUFFIX}, got '{out}'")
    personalization(generator)  # refuses an unknown or unpersonalizable generator before the long loads
    device = check_device(device)
    for path in source:
        read_image(path)
    config = PersonalizeConfig(steps=steps, seconds=budget)
    model = load_body_model(body_model, model_dir, cache_dir, progress=True).to(device)
    imitator = Imitator(model, WarpOnlyGenerator(), ImitatorConfig(size=size, clothes=clothes(naked_body)), device)
    _, cached, reused = personalized_generator(imitator, source, resolve_cache_dir(cache_dir), checkpoint, config, progress=True, generator=generator)
    copy_atomic(cached, out)
    photos = f"{len(source)} photo{'s' * (len(source) != 1)}"
    typer.echo(f"{'reused the cached' if reused else 'made the'} {generator} personalization of {photos} ({cached})")
    typer.echo(f"wrote {out}")
