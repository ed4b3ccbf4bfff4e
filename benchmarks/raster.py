"""Speed of `warping.rasterize` on a body-sized procedural mesh (no data files needed).

The mesh is a capsule tessellated to 27,456 faces and 13,730 vertices (the size of a human body
mesh), half the image tall, a sixth of it wide, tilted so that its faces are not axis-aligned.
Prints the median time per call after a warm-up for the torch backend on CPU, and on CUDA when
available.

    python benchmarks/raster.py [--repeats 30] [--batch 1]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from warping.raster import rasterize


def capsule(segments: int = 96, rings: int = 143, height: float = 1.0, radius: float = 1 / 6):
    """A closed capsule along y: `(V, 3)` vertices and `(F, 3)` faces, F = 2 * segments * rings.

    Rings are spaced evenly along the profile's arc length, so all faces have similar areas.
    """
    straight = height - 2 * radius
    arc = math.pi * radius / 2
    length = 2 * arc + straight
    s = torch.linspace(0, length, rings + 2, dtype=torch.float64)[1:-1]
    lower, upper = s < arc, s > arc + straight
    angle_low = (s / radius).clamp(max=math.pi / 2)  # from the bottom pole up
    angle_up = ((length - s) / radius).clamp(max=math.pi / 2)  # from the top pole down
    r = torch.where(lower, radius * angle_low.sin(), torch.where(upper, radius * angle_up.sin(), radius))
    y = torch.where(
        lower,
        -straight / 2 - radius * angle_low.cos(),
        torch.where(upper, straight / 2 + radius * angle_up.cos(), s - arc - straight / 2),
    )
    theta = torch.arange(segments, dtype=torch.float64) * (2 * math.pi / segments)
    ring_verts = torch.stack(
        (r[:, None] * theta.cos(), y[:, None].expand(-1, segments), r[:, None] * theta.sin()), -1
    ).reshape(-1, 3)
    poles = torch.tensor([[0.0, -height / 2, 0.0], [0.0, height / 2, 0.0]], dtype=torch.float64)
    verts = torch.cat((ring_verts, poles))
    ring = torch.arange(rings - 1)[:, None] * segments
    seg = torch.arange(segments)[None, :]
    a, b = ring + seg, ring + (seg + 1) % segments
    c, d = a + segments, b + segments
    sides = torch.stack((torch.stack((a, c, b), -1), torch.stack((b, c, d), -1)), 2).reshape(-1, 3)
    bottom, top = torch.full((segments,), rings * segments), torch.full((segments,), rings * segments + 1)
    this, after = torch.arange(segments), (torch.arange(segments) + 1) % segments
    last = (rings - 1) * segments
    caps = torch.cat((torch.stack((bottom, this, after), -1), torch.stack((top, last + after, last + this), -1)))
    return verts.float(), torch.cat((sides, caps))


def image_space(verts: torch.Tensor, size: int) -> torch.Tensor:
    """Tilts the unit-height capsule and places it half the image tall at the image centre."""
    ax, az = math.radians(25), math.radians(12)
    rot_x = torch.tensor([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    rot_z = torch.tensor([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    p = verts @ (rot_z @ rot_x).T
    scale = 0.5 * size / float(p[:, 1].max() - p[:, 1].min())
    return torch.stack((scale * p[:, 0] + size / 2, -scale * p[:, 1] + size / 2, -scale * p[:, 2]), -1)


def time_call(verts: torch.Tensor, faces: torch.Tensor, size: int, repeats: int) -> list[float]:
    """Milliseconds of each of `repeats` calls, after three warm-up calls."""
    sync = torch.cuda.synchronize if verts.device.type == "cuda" else (lambda: None)
    for _ in range(3):
        rasterize(verts, faces, size, size)
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        rasterize(verts, faces, size, size)
        sync()
        times.append(1000 * (time.perf_counter() - start))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per row")
    parser.add_argument("--batch", type=int, default=1, help="meshes per call")
    args = parser.parse_args()

    verts, faces = capsule()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"mesh: {faces.shape[0]} faces, {verts.shape[0]} vertices; batch {args.batch}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'device':<6} {'size':>9} {'median ms':>10} {'min ms':>8} {'foreground px':>14}")
    for device in devices:
        for size in (256, 512):
            image = image_space(verts, size).to(device).expand(args.batch, -1, -1).contiguous()
            f = faces.to(device)
            times = time_call(image, f, size, args.repeats)
            fg = int((rasterize(image, f, size, size).face_id[0] >= 0).sum())
            print(f"{device:<6} {f'{size}x{size}':>9} {statistics.median(times):>10.2f} "
                  f"{min(times):>8.2f} {fg:>14}")


if __name__ == "__main__":
    main()
