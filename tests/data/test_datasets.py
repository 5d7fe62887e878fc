import numpy as np
import pytest

from toolchain.data import Dataset, check_matches, load_dataset
from toolchain.errors import DatasetError

DIGITS_COUNT = 1797


def test_digits_split_shapes_and_ranges():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1347, 8, 8, 1)
    assert ds.x_test.shape == (450, 8, 8, 1)
    assert ds.y_train.shape == (1347,) and ds.y_test.shape == (450,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.num_classes == 10
    assert ds.input_shape == (8, 8, 1)


def test_digits_split_is_stratified_and_seeded():
    ds = load_dataset("digits", seed=0)
    test_counts = np.bincount(ds.y_test, minlength=10)
    all_counts = test_counts + np.bincount(ds.y_train, minlength=10)
    assert all_counts.sum() == DIGITS_COUNT
    assert np.all(np.abs(test_counts - 0.25 * all_counts) <= 1)
    again = load_dataset("digits", seed=0)
    other = load_dataset("digits", seed=1)
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    assert not np.array_equal(ds.x_test, other.x_test)


def test_digits28_is_upsampled_digits_with_same_split():
    small = load_dataset("digits", seed=3)
    large = load_dataset("digits28", seed=3)
    assert large.x_train.shape == (1347, 28, 28, 1)
    assert large.x_test.shape == (450, 28, 28, 1)
    assert large.x_train.dtype == np.float32
    assert 0.0 <= large.x_train.min() and large.x_train.max() <= 1.0
    np.testing.assert_array_equal(small.y_test, large.y_test)
    # Bilinear upsampling keeps the mean intensity of each image close to the original.
    np.testing.assert_allclose(
        large.x_test.mean(axis=(1, 2, 3)), small.x_test.mean(axis=(1, 2, 3)), atol=0.03
    )


def test_npz_with_labels_is_both_splits(tmp_path):
    x = np.random.default_rng(0).random((5, 4, 4, 1), dtype=np.float32)
    y = np.array([0, 2, 1, 2, 0])
    path = tmp_path / "calib.npz"
    np.savez(path, x=x, y=y)
    ds = load_dataset(str(path))
    assert ds.name == "calib"
    np.testing.assert_array_equal(ds.x_train, x)
    np.testing.assert_array_equal(ds.x_test, x)
    assert ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.y_train, y)
    assert ds.num_classes == 3


def test_npz_without_labels(tmp_path):
    path = tmp_path / "unlabeled.npz"
    np.savez(path, x=np.zeros((2, 3), np.float32))
    ds = load_dataset(str(path))
    assert ds.y_train is None and ds.y_test is None
    assert not ds.labeled


def test_missing_npz_names_the_file(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(DatasetError, match="nope.npz does not exist"):
        load_dataset(str(path))


def test_npz_without_x_lists_arrays(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.zeros((2, 3), np.float32))
    with pytest.raises(DatasetError, match=r"no array 'x' \(found: images\)"):
        load_dataset(str(path))


def test_npz_wrong_dtype(tmp_path):
    path = tmp_path / "f64.npz"
    np.savez(path, x=np.zeros((2, 3), np.float64))
    with pytest.raises(DatasetError, match="'x' in .*f64.npz has dtype float64; expected float32"):
        load_dataset(str(path))


def test_npz_label_count_mismatch(tmp_path):
    path = tmp_path / "y.npz"
    np.savez(path, x=np.zeros((3, 2), np.float32), y=np.array([0, 1]))
    with pytest.raises(DatasetError, match=r"'y' in .* has shape \(2,\); expected \(3,\)"):
        load_dataset(str(path))


def test_not_an_npz_archive(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(DatasetError, match="text.npz is not a .npz archive numpy can read"):
        load_dataset(str(path))


def test_unknown_dataset_name():
    with pytest.raises(DatasetError, match="unknown dataset 'mnist'.*digits, digits28"):
        load_dataset("mnist")


def test_check_matches():
    ds = Dataset("toy", np.zeros((2, 8, 8, 1), np.float32), None,
                 np.zeros((2, 8, 8, 1), np.float32), None, 0)
    check_matches(ds, (8, 8, 1))
    check_matches(ds, (None, 8, 8, 1))
    with pytest.raises(DatasetError, match=r"'toy' has samples of shape \(8, 8, 1\).*expects inputs of shape \(28, 28, 1\)"):
        check_matches(ds, (28, 28, 1))
