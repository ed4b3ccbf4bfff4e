"""`mimic eval` with several generators: one table, every generator scored on the same frames."""

from __future__ import annotations

import pytest

from mimic.evaluate import EvalResult, evaluate_generators, format_table
from mimic.generators.pose_transfer import PoseTransferGenerator
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.models.patn import create_patn
from mimic.pipeline import ImitatorConfig


def test_table_has_one_row_per_video_and_generator():
    rows = [EvalResult(f"/v/{v}.mp4", g, [0], 5, 0.8, 20.0, 0.7, 0.9, 3.0) for v in ("a", "b") for g in ("warp", "pg2", "spt")]
    table = format_table(rows).splitlines()
    assert len(table) == 2 + 6 and table[0].startswith("| video | generator |")
    assert [line.split("|")[2].strip() for line in table[2:]] == ["warp", "pg2", "spt"] * 2


@pytest.mark.slow
def test_several_generators_are_scored_on_the_same_frames(anny_body, demo_inputs):
    _, driver = demo_inputs
    untrained = create_patn({"size": 64, "width": 8, "blocks": 1})
    for net in untrained.nets.values():
        net.eval()
    generators = [WarpOnlyGenerator(), PoseTransferGenerator(untrained)]
    warp, patn = evaluate_generators(anny_body, generators, driver, ImitatorConfig(size=128), max_frames=4)
    assert (warp.generator, patn.generator) == ("warp", "patn")
    assert warp.frames == patn.frames == 3 and warp.video == patn.video
    assert warp.ssim > patn.ssim and warp.psnr > patn.psnr  # an untrained network draws noise on the person
    assert warp.frames_per_second > 0 and patn.frames_per_second > 0
    with pytest.raises(Exception, match="different names"):
        evaluate_generators(anny_body, [WarpOnlyGenerator(), WarpOnlyGenerator()], driver, max_frames=2)
