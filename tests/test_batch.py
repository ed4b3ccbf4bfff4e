"""Batch `mimic video`: pairs from folders and list files, skipping finished outputs, the table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mimic.errors import NoPersonError, OptionError
from mimic.tasks.batch import BatchJob, batch_jobs, format_batch_table, read_pairs, run_batch
from mimic.tasks.video import VideoSummary


def _touch(*paths: Path) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_folders_make_every_pair(tmp_path: Path) -> None:
    _touch(tmp_path / "photos" / "b.png", tmp_path / "photos" / "a.jpg", tmp_path / "photos" / "notes.txt")
    _touch(tmp_path / "dances" / "x.mp4", tmp_path / "dances" / "y.mov")
    jobs = batch_jobs([tmp_path / "photos"], tmp_path / "dances", tmp_path / "out")
    assert [(j.sources[0].name, j.driver.name, j.out.name) for j in jobs] == [
        ("a.jpg", "x.mp4", "a__x.mp4"), ("a.jpg", "y.mov", "a__y.mp4"), ("b.png", "x.mp4", "b__x.mp4"), ("b.png", "y.mov", "b__y.mp4"),
    ]
    front_back = batch_jobs([tmp_path / "photos" / "a.jpg", tmp_path / "photos" / "b.png"], tmp_path / "dances", tmp_path / "out")
    assert [len(j.sources) for j in front_back] == [2, 2]  # two files, no folder: one person
    with pytest.raises(OptionError, match="no videos in the folder"):
        batch_jobs([tmp_path / "photos"], tmp_path / "photos", tmp_path / "out")


def test_pairs_file(tmp_path: Path) -> None:
    (tmp_path / "pairs.txt").write_text("# source driver\nme.jpg dance.mp4\n\nfront.jpg+back.jpg clips/spin.mp4  # two photos\n")
    jobs = read_pairs(tmp_path / "pairs.txt", tmp_path / "out")
    assert jobs[0] == BatchJob((tmp_path / "me.jpg",), tmp_path / "dance.mp4", tmp_path / "out" / "me__dance.mp4")
    assert jobs[1].sources == (tmp_path / "front.jpg", tmp_path / "back.jpg") and jobs[1].out.name == "front__spin.mp4"
    (tmp_path / "bad.txt").write_text("me.jpg\n")
    with pytest.raises(OptionError, match=r"bad.txt:1: expected 'SOURCE DRIVER'"):
        read_pairs(tmp_path / "bad.txt", tmp_path / "out")


def test_run_batch_skips_finished_outputs_and_goes_on_after_a_failure(tmp_path: Path) -> None:
    jobs = [BatchJob((tmp_path / f"{n}.jpg",), tmp_path / "d.mp4", tmp_path / f"{n}__d.mp4") for n in ("done", "new", "bad")]
    _touch(jobs[0].out)
    ran = []

    def run(job: BatchJob) -> VideoSummary:
        ran.append(job.sources[0].stem)
        if job.sources[0].stem == "bad":
            raise NoPersonError("no person found in source photo 1")
        return VideoSummary(12, 0, False, 1.0, 0.5, {})

    rows = run_batch(jobs, run)
    assert ran == ["new", "bad"]
    assert [r.status for r in rows] == ["skipped", "done", "failed"]
    table = format_batch_table(rows).splitlines()
    assert table[0].split() == ["source", "driver", "status", "frames", "seconds", "output", "/", "error"]
    assert "no person found in source photo 1" in table[3] and table[2].split()[3] == "12"
    assert table[-1] == "1 done, 1 skipped, 1 failed"


@pytest.mark.slow
def test_mimic_video_batch_over_a_folder_then_resumes(anny_body, demo_inputs, tmp_path: Path) -> None:
    from tests.cli_helpers import run_mimic

    source, driver = demo_inputs
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(source, photos / "first.png")
    shutil.copy(source, photos / "second.png")
    out = tmp_path / "results"
    args = ("video", "--source", str(photos), "--driver", str(driver), "--out", str(out), "--size", "64", "--max-frames", "2")
    result = run_mimic(*args)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"first__{driver.stem}.mp4", f"second__{driver.stem}.mp4"]
    assert result.stdout.strip().splitlines()[-1] == "2 done, 0 skipped, 0 failed"
    again = run_mimic(*args)
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == "0 done, 2 skipped, 0 failed"
    video_out = run_mimic("video", "--source", str(photos), "--driver", str(driver), "--out", str(tmp_path / "x.mp4"))
    assert video_out.returncode == 1
    assert video_out.stderr.strip() == f"mimic: error: a batch writes one video per pair: give --out a folder, not '{tmp_path / 'x.mp4'}'"
