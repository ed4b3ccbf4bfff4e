"""DistributedDataParallel through the trainer: two CPU processes on the gloo backend."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from training_tiny import NAME, register_tiny

from mimic import registry
from mimic.training.checkpoint import list_checkpoints, load_weights
from mimic.training.data_options import DataOptions
from mimic.training.trainer import LOSSES_FILE, TrainOptions, train

SIZE, STEPS = 32, 4


def _run(rank: int, world: int, batch_size: int, out, init: str | None) -> None:
    """One rank: the tiny model trained STEPS steps on its shard; weights saved to out/rank<r>.pt."""
    torch.set_num_threads(1)
    if init is not None:
        dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        register_tiny()
        torch.manual_seed(rank)  # different initial weights per rank: DDP must broadcast rank 0's
        model = registry.create(NAME, None, "cpu")

        def batches(start: int):
            return registry.batches(NAME, DataOptions(batch_size=batch_size, size=SIZE, start=start), rank, world)

        train(model, batches, out / "train", TrainOptions(steps=STEPS, checkpoint_every=2))
        assert set(model.nets) == {"generator"} and not isinstance(model.nets["generator"], torch.nn.parallel.DistributedDataParallel)
        torch.save(model.nets["generator"].state_dict(), out / f"rank{rank}.pt")
    finally:
        if init is not None:
            dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one_process_with_both_shards(tmp_path):
    (tmp_path / "ddp").mkdir()
    mp.spawn(_run, args=(2, 2, tmp_path / "ddp", f"file://{tmp_path / 'rendezvous'}"), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "ddp" / "rank0.pt")
    rank1 = torch.load(tmp_path / "ddp" / "rank1.pt")
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key

    # One process with batches of 4 sees, at each step, exactly the pairs of both ranks' batches
    # of 2; DDP averages the ranks' gradients, so the same steps are taken (up to rounding).
    (tmp_path / "single").mkdir()
    _run(0, 1, 4, tmp_path / "single", None)
    single = torch.load(tmp_path / "single" / "rank0.pt")
    for key in rank0:
        torch.testing.assert_close(rank0[key], single[key], rtol=0, atol=1e-5)
    initial = registry.create(NAME, None, "cpu")  # a trained model moved away from its start
    assert any(not torch.allclose(rank0[k], v) for k, v in initial.nets["generator"].state_dict().items())

    # only rank 0 wrote: checkpoints at 2 and 4 and one log row per step
    assert [p.name for p in list_checkpoints(tmp_path / "ddp" / "train")] == ["checkpoint-00000002", "checkpoint-00000004"]
    assert load_weights(tmp_path / "ddp" / "train")[0] == NAME
    assert len((tmp_path / "ddp" / "train" / LOSSES_FILE).read_text().splitlines()) == STEPS + 1
