"""Video files made from others for the media tests: a faststart copy and a copy cut short."""

from pathlib import Path

import av


def faststart_copy(source: Path, dest: Path) -> Path:
    """``source`` remuxed with its index (moov) first, as cameras and web downloads have it."""
    with av.open(str(source)) as src, av.open(str(dest), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dest


def cut(path: Path, dest: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``path``'s bytes (an interrupted copy or download)."""
    data = path.read_bytes()
    dest.write_bytes(data[: int(len(data) * fraction)])
    return dest
