import numpy as np
import pytest
from orix.crystal_map import CrystalMap
from orix.quaternion import Rotation

from synthebsd.analyze import indexing_summary, orientation_error_map, pattern_ncc


def _copy_with(truth, rotations=None, phase_id=None):
    return CrystalMap(
        rotations=Rotation(truth.rotations.data if rotations is None else rotations),
        phase_id=truth.phase_id.copy() if phase_id is None else phase_id,
        x=truth.x,
        y=truth.y,
        phase_list=truth.phases.deepcopy(),
    )


def test_errors_zero_for_symmetry_equivalents_and_exact_for_known_rotation(make_cell):
    truth = make_cell(shape_px=(40, 60), porosity=0.1, metal_um=11, collector_um=4, seed=0)
    ops = Rotation(truth.phases[0].point_group.proper_subgroup.data)
    rng = np.random.default_rng(0)
    equivalent = ops[rng.integers(0, ops.size, truth.size)] * truth.rotations
    err = orientation_error_map(truth, _copy_with(truth, equivalent.data))
    indexable = truth.phase_id >= 0
    assert np.allclose(err[indexable], 0, atol=1e-4)
    assert np.all(np.isnan(err[~indexable]))
    # A 3° rotation about a random axis is a 3° disorientation (well below any symmetry angle).
    tilt = Rotation.from_axes_angles([1, 2, 3], np.deg2rad(3.0))
    err = orientation_error_map(truth, _copy_with(truth, (tilt * truth.rotations).data))
    assert np.allclose(err[indexable], 3.0, atol=1e-4)


def test_summary_counts_failures_over_all_indexable_points(make_cell):
    truth = make_cell(shape_px=(40, 60), porosity=0.1, metal_um=11, collector_um=4, seed=0)
    phase_id = truth.phase_id.copy()
    metal = np.nonzero(phase_id == 0)[0]
    phase_id[metal[:100]] = -1  # not indexed
    phase_id[metal[100:150]] = 1  # wrong phase
    pores = np.nonzero(truth.prop["pore"])[0]
    phase_id[pores[:5]] = 0  # pores wrongly indexed
    summary = indexing_summary(truth, _copy_with(truth, phase_id=phase_id))
    n = int((truth.phase_id >= 0).sum())
    assert summary["n_points"] == n
    assert summary["fraction_not_indexed"] == pytest.approx(100 / n)
    assert summary["fraction_wrong_phase"] == pytest.approx(50 / n)
    assert summary["fraction_within_2deg"] == pytest.approx((n - 150) / n)
    assert summary["median_error_deg"] == pytest.approx(0, abs=1e-4)
    assert summary["non_indexable"]["pore"]["fraction_given_orientation"] == pytest.approx(
        5 / len(pores)
    )
    assert summary["per_phase"]["Li"]["n_points"] == metal.size


def test_size_mismatch_is_an_error(make_cell):
    truth = make_cell(seed=0)
    with pytest.raises(ValueError, match="differ in size"):
        orientation_error_map(truth, truth[truth.phase_id == 0])


def test_pattern_ncc():
    rng = np.random.default_rng(0)
    a = rng.random((3, 10, 10))
    assert np.allclose(pattern_ncc(a, 2 * a + 1), 1)
    assert np.allclose(pattern_ncc(a, -a), -1)
    assert abs(pattern_ncc(a[0], rng.random((10, 10)))) < 0.3
