"""`mimic eval` with several generators: one table, every generator scored on the same frames."""

from __future__ import annotations

import numpy as np
import pytest

from mimic.generators.pose_transfer import PoseTransferGenerator
from mimic.generators.warp_only import WarpOnlyGenerator
from mimic.media.contact_sheet import TITLE_HEIGHT, ContactSheet, sheet_frames
from mimic.networks.patn import create_patn
from mimic.pipeline.imitator import ImitatorConfig
from mimic.tasks.evaluate import EvalResult, evaluate_generators, format_table
from tests.conftest import cache_dir, needs_lpips


def test_table_has_one_row_per_video_and_generator():
    rows = [EvalResult(f"/v/{v}.mp4", g, [0], 5, 0.8, 0.125, 20.0, 0.7, 0.9, 3.0) for v in ("a", "b") for g in ("warp", "pg2", "spt")]
    table = format_table(rows).splitlines()
    assert len(table) == 2 + 6 and table[0].startswith("| video | generator | frames | SSIM | LPIPS |")
    assert table[2].split("|")[5].strip() == "0.125" and rows[0].as_dict()["lpips"] == 0.125
    assert [line.split("|")[2].strip() for line in table[2:]] == ["warp", "pg2", "spt"] * 2


@needs_lpips
@pytest.mark.slow
def test_several_generators_are_scored_on_the_same_frames(anny_body, demo_inputs, tmp_path):
    _, driver = demo_inputs
    untrained = create_patn({"size": 64, "width": 8, "blocks": 1})
    for net in untrained.nets.values():
        net.eval()
    generators = [WarpOnlyGenerator(), PoseTransferGenerator(untrained)]
    sheet = tmp_path / "sheet.png"
    warp, patn = evaluate_generators(anny_body, generators, driver, ImitatorConfig(size=128), max_frames=4, cache_dir=cache_dir(), sheet=sheet, sheet_rows=2)
    assert (warp.generator, patn.generator) == ("warp", "patn")
    assert warp.frames == patn.frames == 3 and warp.video == patn.video
    assert warp.ssim > patn.ssim and warp.psnr > patn.psnr  # an untrained network draws noise on the person
    assert 0 < warp.lpips < patn.lpips
    assert warp.frames_per_second > 0 and patn.frames_per_second > 0
    from mimic.media.images import read_image

    drawn = read_image(sheet)  # 2 scored frames: real | warp | patn
    assert drawn.shape == (TITLE_HEIGHT + 2 * 128, 3 * 128, 3)
    assert drawn[TITLE_HEIGHT:, :128].std() > 5  # the real crops are there, not a blank
    with pytest.raises(Exception, match="different names"):
        evaluate_generators(anny_body, [WarpOnlyGenerator(), WarpOnlyGenerator()], driver, max_frames=2)


def test_sheet_frames_spread_over_the_clip_and_skip_the_sources():
    assert sheet_frames(10, 3, skip=[0]) == [1, 5, 9]
    assert sheet_frames(3, 5, skip=[0]) == [1, 2]  # fewer frames than rows: all of them
    assert sheet_frames(5, 0) == [] and sheet_frames(1, 2, skip=[0]) == []


def test_contact_sheet_tiles_rows_under_titles_and_refuses_ragged_rows():
    sheet = ContactSheet(["real", "warp"])
    red, blue = np.zeros((8, 6, 3), np.uint8), np.zeros((8, 6, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    sheet.add([red, blue])
    sheet.add([blue, red])
    image = sheet.image()
    assert image.shape == (TITLE_HEIGHT + 16, 12, 3)
    assert (image[TITLE_HEIGHT : TITLE_HEIGHT + 8, :6] == red).all() and (image[TITLE_HEIGHT + 8 :, :6] == blue).all()
    assert (image[:TITLE_HEIGHT] < 255).any()  # the titles are drawn
    with pytest.raises(ValueError, match="one per column"):
        sheet.add([red])
    with pytest.raises(ValueError, match="one size"):
        sheet.add([red, np.zeros((4, 6, 3), np.uint8)])
