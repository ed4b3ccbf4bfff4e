"""Part swaps of synthetic bodies in flat per-part colours: the named parts take exactly the
reference's colours, everything else stays the person's."""

import pytest
import torch
import torch.nn.functional as F

from bodymesh.body_model import zero_shape
from bodymesh.parts import NUM_PARTS, PART_INDEX, PART_NAMES
from mimic.errors import OptionError
from mimic.tasks.demo import dance_pose
from mimic.tasks.swap import PART_GROUPS, parse_parts, swap_background, swap_subject
from tests.view_helpers import camera, nearest_colour, palette, part_texture, synthetic_subject, view_imitator


@pytest.fixture(scope="module")
def imitator(anny_body):
    return view_imitator(anny_body)


@pytest.fixture(scope="module")
def people(imitator):
    """Person A and reference B: different poses, shapes, places and part colours."""
    body = imitator.body
    colours = palette(2 * NUM_PARTS, seed=1)
    person_colours, reference_colours = colours[:NUM_PARTS], colours[NUM_PARTS:]
    person = synthetic_subject(
        imitator, [part_texture(imitator, person_colours)], [dance_pose(body, 0.0)], zero_shape(body), [camera()], seed=1
    )
    shape = torch.zeros(1, body.num_shape)
    shape[0, 0] = 1.0
    reference_cam = camera(46.0) + torch.tensor([[0.0, 8.0, -3.0]])
    reference = synthetic_subject(
        imitator, [part_texture(imitator, reference_colours)], [dance_pose(body, 0.3)], shape, [reference_cam], seed=2
    )
    return person, reference, person_colours, reference_colours


def interior(mask: torch.Tensor) -> torch.Tensor:
    """`(H, W)` bool: `mask` eroded by one pixel (part boundaries mix colours)."""
    return F.max_pool2d((~mask).float()[None, None], 3, 1, 1)[0, 0] == 0


def test_part_names_and_groups():
    assert parse_parts("upper") == tuple(sorted(PART_INDEX[n] for n in PART_GROUPS["upper"]))
    assert parse_parts("upper,lower") == parse_parts("full")
    assert parse_parts("torso, left_foot") == (PART_INDEX["torso"], PART_INDEX["left_foot"])
    assert PART_INDEX["head"] not in parse_parts("full") and PART_INDEX["left_hand"] not in parse_parts("full")
    with pytest.raises(OptionError, match="unknown part 'shirt'"):
        parse_parts("upper,shirt")
    with pytest.raises(OptionError, match="--parts"):
        parse_parts(" , ")


@pytest.mark.parametrize("parts", ["upper", "lower,head"])
def test_swap_takes_exactly_the_named_parts_from_the_reference(imitator, people, parts):
    person, reference, person_colours, reference_colours = people
    chosen = parse_parts(parts)
    subject = swap_subject(imitator, person, reference, chosen)
    fit = person.fits[0]
    target = imitator.target(subject, fit.pose, fit.cam, person.bundle.background)
    image = imitator.generator.generate(subject.bundle, target)
    label = nearest_colour(image, torch.cat((person_colours, reference_colours)))
    from_reference = label >= NUM_PARTS
    reference_sees = target.weights[1] > 0.99
    checked = 0
    for part in range(NUM_PARTS):
        region = interior(target.parts[0] == part)
        if int(region.sum()) < 5:
            continue
        if part in chosen:
            # Every pixel from the reference; where the reference photo sees the point, the
            # reference's colour of that very part (elsewhere its texture, filled by symmetry).
            share = float(from_reference[region].float().mean())
            seen = region & reference_sees
            assert int(seen.sum()) == 0 or float((label[seen] == part + NUM_PARTS).float().mean()) > 0.97
        else:
            share = float((label[region] == part).float().mean())
        assert share > 0.97, f"{PART_NAMES[part]}: {share:.3f} of its pixels from the expected person"
        checked += 1
    assert checked >= 8  # hands and lower arms are too thin at this size
    # The person's own parts are the person's pixels: the target is the person's own fit.
    kept = interior((target.parts[0] >= 0) & ~torch.isin(target.parts[0], torch.tensor(chosen)))
    assert float((image - person.bundle.images[:1]).abs().mean(1)[0][kept].mean()) < 0.02


def test_swap_background_removes_only_the_swapped_parts(people):
    person = people[0]
    chosen = parse_parts("lower")
    plate = swap_background(person, chosen)
    crop = person.bundle.images[:1]
    parts = person.bundle.parts[0]
    legs = interior(torch.isin(parts, torch.tensor(chosen)))
    head = interior(parts == PART_INDEX["head"])
    assert float((plate - crop).abs().mean(1)[0][legs].mean()) > 0.2  # the legs are gone
    assert float((plate - crop).abs().mean(1)[0][head].max()) < 1e-6  # the head is kept
