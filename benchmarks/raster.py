"""Speed of `warping.rasterize` on a body-sized procedural mesh (no data files needed).

The mesh is a closed capsule tessellated to 27,456 faces and 13,730 vertices (the size of a
human body mesh), half the image tall and a sixth of it wide, tilted so that its faces are not
axis-aligned. Prints the median and best time per call, after a warm-up, of the torch backend on
CPU, and on CUDA when available.

    python benchmarks/raster.py [--repeats 30] [--batch 1] [--threads N]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from warping.raster import rasterize


def capsule(
    segments: int = 96, rings: int = 143, height: float = 1.0, radius: float = 1 / 6
) -> tuple[torch.Tensor, torch.Tensor]:
    """A closed capsule along y, faces counter-clockwise seen from outside.

    Rings are spaced evenly along the profile's arc length, so all faces have similar areas.
    Returns `(V, 3)` float vertices, V = segments * rings + 2, and `(F, 3)` int64 faces,
    F = 2 * segments * rings.
    """
    straight = height - 2 * radius
    arc = math.pi * radius / 2  # length of a cap's quarter circle in the profile
    length = 2 * arc + straight
    s = torch.linspace(0, length, rings + 2, dtype=torch.float64)[1:-1]  # poles excluded
    lower, upper = s < arc, s > arc + straight
    angle_low = (s / radius).clamp(max=math.pi / 2)  # from the bottom pole up
    angle_up = ((length - s) / radius).clamp(max=math.pi / 2)  # from the top pole down
    r = torch.where(lower, angle_low.sin(), torch.where(upper, angle_up.sin(), 1.0)) * radius
    y = torch.where(
        lower,
        -straight / 2 - radius * angle_low.cos(),
        torch.where(upper, straight / 2 + radius * angle_up.cos(), s - arc - straight / 2),
    )
    theta = torch.arange(segments, dtype=torch.float64) * (2 * math.pi / segments)
    x, z = r[:, None] * theta.cos(), r[:, None] * theta.sin()
    ring_verts = torch.stack((x, y[:, None].expand_as(x), z), -1).reshape(-1, 3)
    poles = torch.tensor([[0.0, -height / 2, 0.0], [0.0, height / 2, 0.0]], dtype=torch.float64)

    this = torch.arange(segments)
    after = (this + 1) % segments
    ring = torch.arange(rings - 1)[:, None] * segments
    a, b = ring + this, ring + after  # (rings - 1, segments) each
    c, d = a + segments, b + segments
    sides = torch.stack((torch.stack((a, c, b), -1), torch.stack((b, c, d), -1)), 2)
    bottom = torch.full((segments,), rings * segments)
    top = bottom + 1
    last = (rings - 1) * segments
    caps = torch.cat(
        (torch.stack((bottom, this, after), -1), torch.stack((top, last + after, last + this), -1))
    )
    faces = torch.cat((sides.reshape(-1, 3), caps))
    return torch.cat((ring_verts, poles)).float(), faces


def image_space(verts: torch.Tensor, size: int) -> torch.Tensor:
    """`(V, 3)` capsule -> `(V, 3)` image space: tilted, half the image tall, centred."""
    ax, az = math.radians(25), math.radians(12)
    cx, sx, cz, sz = math.cos(ax), math.sin(ax), math.cos(az), math.sin(az)
    rot_x = torch.tensor([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    rot_z = torch.tensor([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    p = verts @ (rot_z @ rot_x).T
    scale = 0.5 * size / float(p[:, 1].max() - p[:, 1].min())
    u, v, d = scale * p[:, 0] + size / 2, -scale * p[:, 1] + size / 2, -scale * p[:, 2]
    return torch.stack((u, v, d), -1)


def time_calls(verts: torch.Tensor, faces: torch.Tensor, size: int, repeats: int) -> list[float]:
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
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    verts, faces = capsule()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"mesh: {faces.shape[0]} faces, {verts.shape[0]} vertices; batch {args.batch}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    print(f"{'device':<6} {'size':>9} {'median ms':>10} {'best ms':>8} {'foreground px':>14}")
    for device in devices:
        for size in (256, 512):
            image = image_space(verts, size).to(device).expand(args.batch, -1, -1).contiguous()
            faces_on = faces.to(device)
            times = time_calls(image, faces_on, size, args.repeats)
            foreground = int((rasterize(image, faces_on, size, size).face_id[0] >= 0).sum())
            print(
                f"{device:<6} {f'{size}x{size}':>9} {statistics.median(times):>10.2f} "
                f"{min(times):>8.2f} {foreground:>14}"
            )


if __name__ == "__main__":
    main()
