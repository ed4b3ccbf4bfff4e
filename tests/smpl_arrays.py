"""Synthetic SMPL / SMPL-X model arrays (the licensed files' layout, random numbers) for the
body-model and export tests."""

import numpy as np

SMPL_V, SMPL_F = 6890, 13776


SMPLX_V, SMPLX_F = 10475, 20908


SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]


SMPL_REST_JOINTS = np.array(
    [
        [0.00, 0.00, 0.00], [0.06, -0.09, -0.01], [-0.06, -0.09, -0.01], [0.00, 0.11, -0.02],
        [0.10, -0.47, 0.00], [-0.10, -0.47, 0.00], [0.00, 0.25, 0.00], [0.09, -0.87, -0.04],
        [-0.09, -0.87, -0.04], [0.00, 0.31, 0.02], [0.12, -0.93, 0.08], [-0.12, -0.93, 0.08],
        [0.00, 0.52, -0.01], [0.08, 0.42, 0.00], [-0.08, 0.42, 0.00], [0.00, 0.60, 0.04],
        [0.18, 0.45, -0.01], [-0.18, 0.45, -0.01], [0.43, 0.43, -0.03], [-0.43, 0.43, -0.03],
        [0.68, 0.44, -0.03], [-0.68, 0.44, -0.03], [0.76, 0.43, -0.04], [-0.76, 0.43, -0.04],
    ]
)


def smplx_parents() -> list[int]:
    parents = SMPL_PARENTS[:22] + [15, 15, 15]  # jaw, eyes
    for wrist in (20, 21):  # five fingers of three joints each
        for _ in range(5):
            base = len(parents)
            parents += [wrist, base, base + 1]
    return parents


def mesh_faces(num_vertices: int, num_faces: int) -> np.ndarray:
    i = np.arange(num_vertices)
    faces = np.concatenate(
        [np.stack([i, (i + 1) % num_vertices, (i + 3) % num_vertices], 1),
         np.stack([i, (i + 2) % num_vertices, (i + 5) % num_vertices], 1)]
    )
    return faces[:num_faces]


def model_arrays(num_vertices: int, parents: list[int], num_faces: int, seed: int = 0) -> dict:
    """A structurally valid SMPL-family model: the keys and shapes smplx reads."""
    rng = np.random.default_rng(seed)
    J = len(parents)
    if J == 24:
        rest = SMPL_REST_JOINTS
    else:  # SMPL-X: jaw and eyes near the head, fingers at the wrists
        head, wrists = SMPL_REST_JOINTS[[15, 15, 15]] + 0.02, SMPL_REST_JOINTS[20:22]
        rest = np.concatenate([SMPL_REST_JOINTS[:22], head, np.repeat(wrists, 15, axis=0)])
    v_template = rng.normal(scale=0.3, size=(num_vertices, 3))
    v_template[:J] = rest
    j_regressor = np.zeros((J, num_vertices))
    j_regressor[np.arange(J), np.arange(J)] = 1.0
    weights = rng.dirichlet(np.full(J, 0.3), size=num_vertices)
    weights[:J] = np.eye(J)
    kintree = np.stack([np.array(parents) % 2**32, np.arange(J)]).astype(np.uint32)
    return {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(num_vertices, 3, 10)),
        "posedirs": rng.normal(scale=0.001, size=(num_vertices, 3, 9 * (J - 1))).astype(np.float32),
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": mesh_faces(num_vertices, num_faces).astype(np.int32),
    }
