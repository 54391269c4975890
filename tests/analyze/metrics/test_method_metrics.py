"""The benchmark's metrics on hand-made maps whose answers are known by construction."""

import numpy as np
import pytest
from orix.crystal_map import CrystalMap, PhaseList
from orix.quaternion import Rotation

from synthebsd.analyze import (
    NOT_INDEXED,
    confidence_analysis,
    grain_metrics,
    mask_overlap,
    method_metrics,
    orientation_accuracy,
    phase_confusion,
    pore_mask_metrics,
    reconstruct_grains,
    texture_metrics,
)
from synthebsd.conventions import Region
from synthebsd.phases import get_phase

STEP = 0.5  # µm


def _random(n, rng):
    """Uniform random rotations (normalised 4-D Gaussian quaternions)."""
    q = rng.standard_normal((n, 4))
    return Rotation(q / np.linalg.norm(q, axis=1, keepdims=True))


def _map(phase_id, rotations, region=None, grain_id=None, pore=None, phases=("Li", "Cu")):
    shape = phase_id.shape
    y, x = np.meshgrid(np.arange(shape[0]) * STEP, np.arange(shape[1]) * STEP, indexing="ij")
    prop = {}
    for name, value in (("region", region), ("grain_id", grain_id), ("pore", pore)):
        if value is not None:
            prop[name] = np.asarray(value).ravel()
    return CrystalMap(
        rotations=rotations,
        phase_id=phase_id.ravel(),
        x=x.ravel(),
        y=y.ravel(),
        phase_list=PhaseList(phases=[get_phase(p) for p in phases], ids=list(range(len(phases)))),
        prop=prop,
    )


@pytest.fixture(scope="module")
def truth():
    """12 × 16 Li map: two grains (left and right half, random orientations), a 3 × 4 pore
    in the left grain, and a Cu row at the top."""
    rng = np.random.default_rng(1)
    shape = (12, 16)
    grain_id = np.zeros(shape, int)
    grain_id[:, 8:] = 1
    grain_id[0] = 2
    region = np.full(shape, Region.METAL)
    region[0] = Region.COLLECTOR
    pore = np.zeros(shape, int)
    pore[4:7, 2:6] = 1
    region[pore == 1] = Region.PORE
    grain_id[pore == 1] = -1
    phase_id = np.where(region == Region.COLLECTOR, 1, 0)
    phase_id[pore == 1] = -1
    grains = _random(3, rng)
    rot = grains[np.maximum(grain_id, 0).ravel()]
    return _map(phase_id, rot, region, grain_id, pore)


def _like(truth, rotations=None, phase_id=None, prop=None):
    return CrystalMap(
        rotations=truth.rotations if rotations is None else rotations,
        phase_id=truth.phase_id.copy() if phase_id is None else phase_id,
        x=truth.x,
        y=truth.y,
        phase_list=truth.phases.deepcopy(),
        prop=prop or {},
    )


def test_three_degrees_about_001_is_three_degrees(truth):
    tilt = Rotation.from_axes_angles([0, 0, 1], np.deg2rad(3.0))
    acc = orientation_accuracy(truth, _like(truth, tilt * truth.rotations))
    assert acc["median_error_deg"] == pytest.approx(3.0, abs=1e-6)
    assert acc["mean_error_deg"] == pytest.approx(3.0, abs=1e-6)
    assert acc["p95_error_deg"] == pytest.approx(3.0, abs=1e-6)
    assert acc["fraction_within_1deg"] == 0 and acc["fraction_within_2deg"] == 0
    assert acc["fraction_within_5deg"] == 1
    assert acc["per_phase"]["Cu"]["median_error_deg"] == pytest.approx(3.0, abs=1e-6)


def test_symmetry_equivalent_map_has_zero_error(truth):
    ops = Rotation(get_phase("Li").point_group.proper_subgroup.data)
    pick = np.random.default_rng(0).integers(0, ops.size, truth.size)
    acc = orientation_accuracy(truth, _like(truth, ops[pick] * truth.rotations))
    assert acc["median_error_deg"] == pytest.approx(0, abs=1e-5)
    assert acc["p95_error_deg"] == pytest.approx(0, abs=1e-5)
    assert acc["fraction_within_1deg"] == 1


def test_not_indexed_and_wrong_phase_are_failures(truth):
    phase_id = truth.phase_id.copy()
    metal = np.nonzero(phase_id == 0)[0]
    phase_id[metal[:10]] = -1
    phase_id[metal[10:15]] = 1
    acc = orientation_accuracy(truth, _like(truth, phase_id=phase_id))
    n_li = metal.size
    n = n_li + 16
    assert acc["n_points"] == n
    assert acc["fraction_not_indexed"] == pytest.approx(10 / n)
    assert acc["fraction_wrong_phase"] == pytest.approx(5 / n)
    assert acc["fraction_within_1deg"] == pytest.approx((n - 15) / n)
    li = acc["per_phase"]["Li"]
    assert li["n_points"] == n_li and li["n_right_phase"] == n_li - 15
    assert li["fraction_within_5deg"] == pytest.approx((n_li - 15) / n_li)
    with pytest.raises(ValueError, match="not phases of the truth"):
        orientation_accuracy(truth, truth, candidate_phases=["Na"])


def test_phase_confusion_has_pore_and_electrolyte_rows(truth):
    region = np.asarray(truth.prop["region"]).copy().reshape(12, 16)
    region[-1] = Region.ELECTROLYTE  # bottom row: an amorphous electrolyte, no phase
    phase_id = truth.phase_id.copy().reshape(12, 16)
    phase_id[-1] = -1
    t = _map(phase_id, truth.rotations, region, truth.prop["grain_id"], truth.prop["pore"])
    found = phase_id.copy()
    found[4, 2:4] = 0  # two pore points given Li
    found[-1, :3] = 1  # three electrolyte points given Cu
    found[0, :5] = 0  # five Cu points given Li
    conf = phase_confusion(t, _like(t, phase_id=found.ravel()))
    assert conf["rows"] == ["Li", "Cu", "electrolyte", "pore"]
    assert conf["columns"] == ["Li", "Cu", NOT_INDEXED]
    counts = np.array(conf["counts"])
    n_li = int(np.sum(phase_id == 0))
    assert counts.tolist() == [[n_li, 0, 0], [5, 11, 0], [0, 3, 13], [2, 0, 10]]
    assert conf["fractions"][3] == pytest.approx([2 / 12, 0, 10 / 12])


def test_confidence_separates_correct_from_wrong():
    errors = np.array([0.5, 1.0, 2.0, 4.0, 30.0, np.nan, 60.0, np.nan])
    score = np.array([0.9, 0.8, 0.85, 0.7, 0.3, 0.1, 0.2, 0.4])
    c = confidence_analysis(score, errors)
    assert c["roc_auc"] == 1.0 and c["precision"] == 1.0 and c["recall"] == 1.0
    assert c["best_threshold"] == pytest.approx(0.7)
    assert c["fraction_correct"] == 0.5
    # An uncertainty (lower is better) gives the same separation with its sign.
    u = confidence_analysis(-score, errors, higher_is_better=False)
    assert u["roc_auc"] == 1.0 and u["best_threshold"] == pytest.approx(-0.7)
    # One wrong point scored above every correct one: best F1 at precision 4/5, recall 1.
    score2 = score.copy()
    score2[4] = 0.95
    c2 = confidence_analysis(score2, errors)
    assert c2["roc_auc"] == pytest.approx(12 / 16)
    assert c2["precision"] == pytest.approx(0.8) and c2["recall"] == 1.0
    assert c2["f1"] == pytest.approx(2 * 0.8 / 1.8)
    none = confidence_analysis(score, np.zeros(8))
    assert none["roc_auc"] is None and none["fraction_correct"] == 1.0


def test_pore_mask_shifted_by_one_pixel(truth):
    t = np.zeros((10, 10), bool)
    t[3:7, 3:7] = True
    shifted = np.roll(t, 1, axis=1)
    m = mask_overlap(t, shifted)  # 12 shared of 16 each: IoU 12 / 20
    assert m["iou"] == pytest.approx(12 / 20)
    assert m["precision"] == pytest.approx(12 / 16) and m["recall"] == pytest.approx(12 / 16)
    # On a map: the method's not-indexed points are its pore mask, inside the metal layer.
    pore = np.asarray(truth.prop["pore"]).reshape(12, 16).astype(bool)
    found = truth.phase_id.copy().reshape(12, 16)
    found[pore] = 0
    found[np.roll(pore, 1, axis=0)] = -1  # 3 × 4 pore one row down: 8 shared
    p = pore_mask_metrics(truth, _like(truth, phase_id=found.ravel()))
    assert p["iou"] == pytest.approx(8 / 16)
    assert p["precision"] == pytest.approx(8 / 12) and p["recall"] == pytest.approx(8 / 12)
    assert p["n_layer_points"] == 11 * 16
    # A network's map: its pore class is the mask, not its not-indexed (unsure) points.
    region = np.full((12, 16), Region.METAL)
    region[np.roll(pore, 1, axis=0)] = Region.PORE
    unsure = np.zeros((12, 16), int)
    unsure[8:] = -1  # rows it refuses: no pores
    net = _like(truth, phase_id=unsure.ravel(), prop={"region": region.ravel()})
    q = pore_mask_metrics(truth, net)
    assert (q["iou"], q["precision"], q["recall"]) == pytest.approx((8 / 16, 8 / 12, 8 / 12))


def test_two_grains_reconstructed_with_their_ecds(truth):
    gid = reconstruct_grains(truth).reshape(12, 16)
    assert set(np.unique(gid)) == {-1, 0, 1, 2}
    assert np.all(gid[0] == 0)  # Cu row, numbered first
    assert np.all(gid[1:, :8][~np.asarray(truth.prop["pore"]).reshape(12, 16)[1:, :8]] == 1)
    assert np.all(gid[1:, 8:] == 2)
    g = grain_metrics(truth, truth)
    assert g["phase"] == "Li" and g["n_true"] == 2 and g["n_found"] == 2
    ecd = np.sqrt(4 * np.array([88 - 12, 88]) * STEP**2 / np.pi)
    assert g["mean_ecd_true_um"] == pytest.approx(ecd.mean())
    assert g["mean_ecd_found_um"] == pytest.approx(ecd.mean())
    assert g["mean_ecd_relative_error"] == pytest.approx(0)
    assert g["ks_distance"] == 0 and g["fraction_matched"] == 1
    # Both grains given one orientation: one grain of the summed area.
    one = _like(truth, Rotation.identity((truth.size,)))
    g1 = grain_metrics(truth, one)
    assert g1["n_found"] == 1
    assert g1["mean_ecd_found_um"] == pytest.approx(np.sqrt(4 * 164 * STEP**2 / np.pi))
    assert g1["fraction_matched"] == pytest.approx(0.5)  # the right grain: IoU 88/164
    assert g1["ks_distance"] == pytest.approx(1.0)
    # A 4° gradient across the right grain stays one grain at 5°, splits at 3°.
    rot = truth.rotations.data.copy().reshape(12, 16, 4)
    for c in range(8, 16):
        tilt = Rotation.from_axes_angles([1, 0, 0], np.deg2rad(4.0 * (c - 8)))
        rot[1:, c] = (tilt * Rotation(rot[1:, c])).data
    grad = _like(truth, Rotation(rot.reshape(-1, 4)))
    assert grain_metrics(truth, grad)["n_found"] == 2
    assert grain_metrics(truth, grad, threshold_deg=3.0)["n_found"] == 1 + 8
    with pytest.raises(ValueError, match="connectivity"):
        reconstruct_grains(truth, connectivity=3)


def test_texture_distance():
    rng = np.random.default_rng(2)
    shape = (10, 10)
    phase_id = np.zeros(shape, int)
    random = _map(phase_id, _random(100, rng), grain_id=np.arange(100))
    same = texture_metrics(random, random)
    assert same["odf_distance"] == pytest.approx(0, abs=1e-12)
    assert same["texture_index_difference"] == pytest.approx(0, abs=1e-12)
    single = _like(random, Rotation.identity((100,)))
    t = texture_metrics(random, single)
    # A single orientation is far sharper than 100 random ones and shares little with them.
    assert t["texture_index_found"] > 5 * t["texture_index_true"]
    assert t["odf_distance"] > 0.8
    # Symmetry-equivalent orientations give the same ODF.
    ops = Rotation(get_phase("Li").point_group.proper_subgroup.data)
    eq = _like(random, ops[rng.integers(0, 24, 100)] * random.rotations)
    assert texture_metrics(random, eq)["odf_distance"] == pytest.approx(0, abs=1e-9)


def test_method_metrics_aggregates_everything(truth):
    tilt = Rotation.from_axes_angles([0, 0, 1], np.deg2rad(3.0))
    score = np.linspace(0, 1, truth.size)
    m = method_metrics(truth, _like(truth, tilt * truth.rotations, prop={"scores": score}))
    assert set(m) == {"orientation", "phase_confusion", "confidence", "pores", "grains", "texture"}
    assert m["orientation"]["median_error_deg"] == pytest.approx(3.0, abs=1e-6)
    # Every indexable point is right; the 12 pores (given an orientation here) are wrong.
    conf = m["confidence"]
    assert conf["score"] == "scores" and conf["n_points"] == truth.size
    assert conf["fraction_correct"] == pytest.approx((truth.size - 12) / truth.size)
    assert m["pores"]["iou"] == 1.0
    assert m["grains"]["fraction_matched"] == 1.0
    assert m["texture"]["odf_distance"] < 0.2
