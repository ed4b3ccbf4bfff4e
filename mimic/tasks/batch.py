"""Batch `mimic video`: every (source photo, driver video) pair of folders or of a list file,
one output per pair, finished outputs skipped, one summary table at the end.

Outputs are `<out>/<source stem>__<driver stem>.mp4`. A pair whose output exists is skipped
(outputs appear only when complete, so an existing one is finished). A pair that fails with a
user error (no person found, unreadable file) is reported in its row and the batch goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mimic.errors import MimicError, OptionError
from mimic.media.video_read import is_video_path
from mimic.tasks.video import VideoSummary

__all__ = ["PHOTO_SUFFIXES", "BatchJob", "BatchRow", "batch_jobs", "read_pairs", "run_batch", "format_batch_table"]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class BatchJob:
    """One output of a batch: the source photo(s) of one person, a driver video, the output video."""

    sources: tuple[Path, ...]
    driver: Path
    out: Path


@dataclass
class BatchRow:
    """How one job went: status "done", "skipped" (its output existed) or "failed" (with the error)."""

    job: BatchJob
    status: str
    frames: int = 0
    seconds: float = 0.0
    error: str = ""


def _files(path: Path, video: bool) -> list[Path]:
    """`path` itself, or the photos / videos directly in the folder `path`, sorted by name."""
    if not path.is_dir():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_file() and (is_video_path(p) if video else p.suffix.lower() in PHOTO_SUFFIXES))
    if not found:
        raise OptionError(f"no {'videos' if video else 'photos'} in the folder '{path}'")
    return found


def _job(sources: Sequence[Path], driver: Path, out_dir: Path) -> BatchJob:
    return BatchJob(tuple(sources), driver, out_dir / f"{sources[0].stem}__{driver.stem}.mp4")


def batch_jobs(sources: Sequence[Path], driver: Path, out_dir: Path) -> list[BatchJob]:
    """Every pair of the source photos (files, or folders of photos: each photo one person) and
    the driver (a video, or a folder of videos). Several source files and no folder are one
    person's photos (front / back), as in a single `mimic video`."""
    drivers = _files(driver, video=True)
    if any(p.is_dir() for p in sources):
        people = [[photo] for path in sources for photo in _files(path, video=False)]
    else:
        people = [list(sources)]
    return [_job(person, video, out_dir) for person in people for video in drivers]


def read_pairs(path: Path, out_dir: Path) -> list[BatchJob]:
    """The jobs of a list file: one `SOURCE DRIVER` pair a line (whitespace-separated; several
    photos of one person joined with `+`; relative paths from the list's folder; blank lines and
    `#` comments skipped). OptionError naming the line when one is malformed."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise OptionError(f"cannot read the pairs file '{path}': {error.strerror or error}") from None
    jobs = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise OptionError(f"{path}:{number}: expected 'SOURCE DRIVER', got {line.strip()!r}")
        sources = [Path(path).parent / part for part in fields[0].split("+")]
        jobs.append(_job(sources, Path(path).parent / fields[1], out_dir))
    if not jobs:
        raise OptionError(f"the pairs file '{path}' lists no pairs")
    return jobs


def run_batch(jobs: Sequence[BatchJob], run: Callable[[BatchJob], VideoSummary], report: Callable[[BatchRow], None] | None = None) -> list[BatchRow]:
    """Runs `run` on each job whose output does not exist yet (in order); a MimicError fails
    only its job. `report` sees each row as it is done. Returns one row per job."""
    outs = [job.out for job in jobs]
    if len(set(outs)) != len(outs):
        raise OptionError("two pairs would write the same output (same source and driver names)")
    rows = []
    for job in jobs:
        if job.out.exists():
            row = BatchRow(job, "skipped")
        else:
            clock = time.perf_counter()
            try:
                summary = run(job)
                row = BatchRow(job, "done", summary.frames, time.perf_counter() - clock)
            except MimicError as error:
                row = BatchRow(job, "failed", seconds=time.perf_counter() - clock, error=str(error))
        rows.append(row)
        if report is not None:
            report(row)
    return rows


def format_batch_table(rows: Sequence[BatchRow]) -> str:
    """A plain-text table: one line a job (source, driver, status, frames, seconds, output or
    error) and a closing count of done / skipped / failed."""
    header = ("source", "driver", "status", "frames", "seconds", "output / error")
    lines = [
        (
            "+".join(p.name for p in row.job.sources), row.job.driver.name, row.status,
            str(row.frames) if row.status == "done" else "", f"{row.seconds:.1f}" if row.status != "skipped" else "",
            row.error or str(row.job.out),
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths)).rstrip() for r in [header, *lines]]
    counts = {status: sum(r.status == status for r in rows) for status in ("done", "skipped", "failed")}
    text.append(", ".join(f"{count} {status}" for status, count in counts.items()))
    return "\n".join(text)
