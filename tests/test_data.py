import shutil

import numpy as np
import pytest
import torch

from utils.data.datasets import IDX_FILES, balanced_subset_indices, load_dataset, raw_dir, load_test_subset, verify_idx
from utils.errors import UserError


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_provisioned_files_match_published_md5(data_dir, dataset):
    verify_idx(data_dir, dataset)  # raises on any mismatch


def test_corrupted_idx_file_is_rejected(data_dir, tmp_path):
    shutil.copytree(raw_dir(data_dir, "mnist"), raw_dir(tmp_path, "mnist"))
    target = raw_dir(tmp_path, "mnist") / IDX_FILES[3]
    blob = bytearray(target.read_bytes())
    blob[-1] ^= 0xFF
    target.write_bytes(bytes(blob))
    with pytest.raises(UserError, match="md5 mismatch"):
        verify_idx(tmp_path, "mnist")


def test_loaded_splits_are_real_images(mnist_test, data_dir):
    x, y = mnist_test
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and 0.1 < x.mean() < 0.2
    assert torch.bincount(y).tolist()[:2] == [980, 1135]
    xf, yf = load_dataset("fashion_mnist", data_dir, train=True)
    assert xf.shape == (60000, 1, 28, 28) and torch.bincount(yf).tolist() == [6000] * 10


def test_missing_data_names_the_provisioning_command(tmp_path):
    with pytest.raises(UserError, match="python src/get_data.py --dataset mnist"):
        load_dataset("mnist", tmp_path, train=False)


def test_balanced_subset_is_class_balanced_without_duplicates(mnist_test):
    _, y = mnist_test
    idx = balanced_subset_indices(y.numpy(), 500, seed=0)
    assert len(idx) == 500 and len(np.unique(idx)) == 500
    assert np.bincount(y.numpy()[idx]).tolist() == [50] * 10
    assert (np.diff(y.numpy()[idx]) >= 0).all()  # sorted by class, as the reference
    assert (idx == balanced_subset_indices(y.numpy(), 500, seed=0)).all()
    assert not (idx == balanced_subset_indices(y.numpy(), 500, seed=1)).all()
    with pytest.raises(UserError):
        balanced_subset_indices(y.numpy(), 55, seed=0)


def test_test_subset_is_stored_once_and_shared(data_dir, tmp_path):
    x1, y1, i1 = load_test_subset("mnist", 100, 0, data_dir, tmp_path)
    files = list((tmp_path / "subsets").glob("*.pt"))
    assert len(files) == 1
    x2, y2, i2 = load_test_subset("mnist", 100, 0, data_dir, tmp_path)
    assert torch.equal(i1, i2) and torch.equal(x1, x2) and torch.bincount(y1).tolist() == [10] * 10
    files[0].write_bytes(b"garbage")
    with pytest.raises(UserError, match="corrupt"):
        load_test_subset("mnist", 100, 0, data_dir, tmp_path)


def test_a_same_size_corruption_after_provisioning_is_refused_at_load(data_dir, tmp_path):
    """The stages check the checksums when they load the data (once per change of a file: a stamp records the
    verified size, mtime and inode), so a file edited after provisioning is not trained on."""
    shutil.copytree(raw_dir(data_dir, "mnist").parent, raw_dir(tmp_path, "mnist").parent)
    (raw_dir(tmp_path, "mnist").parent / "verified.json").unlink(missing_ok=True)
    x, _ = load_dataset("mnist", tmp_path, train=False)
    stamp = raw_dir(tmp_path, "mnist").parent / "verified.json"
    assert stamp.exists() and len(x) == 10000
    target = raw_dir(tmp_path, "mnist") / IDX_FILES[2]
    blob = bytearray(target.read_bytes())
    blob[5000] ^= 0xFF  # one pixel byte of a test image: same size, still parses
    target.write_bytes(bytes(blob))
    with pytest.raises(UserError, match="does not match its published md5.*python src/get_data.py --dataset mnist"):
        load_dataset("mnist", tmp_path, train=False)
    (raw_dir(tmp_path, "mnist") / IDX_FILES[3]).unlink()
    with pytest.raises(UserError, match="is missing"):
        load_dataset("mnist", tmp_path, train=True)


def test_a_cifar_cache_with_rewritten_labels_is_refused(data_dir, tmp_path):
    """A decoded CIFAR-10 cache whose tensors no longer hash to the digest recorded when it was written
    (here: every label set to 0) is refused, not trained on."""
    from utils.artifacts import load_artifact, save_artifact
    from utils.data.datasets import CIFAR_CACHE, load_cifar, provision
    provision("cifar", data_dir)
    src = data_dir / "CIFAR10" / CIFAR_CACHE
    (tmp_path / "CIFAR10").mkdir()
    shutil.copy(src, tmp_path / "CIFAR10" / CIFAR_CACHE)
    assert load_cifar(tmp_path, train=False)[1].bincount().min() > 0
    tensors, meta = load_artifact(src)
    save_artifact(tmp_path / "CIFAR10" / CIFAR_CACHE, {**tensors, "train_y": torch.zeros_like(tensors["train_y"])}, meta)
    with pytest.raises(UserError, match="does not match the digest"):
        load_cifar(tmp_path, train=True)
    from utils.data.datasets import tensor_digest
    zeroed = {**tensors, "train_y": torch.zeros_like(tensors["train_y"])}  # with a digest that fits: one class only
    save_artifact(tmp_path / "CIFAR10" / CIFAR_CACHE, zeroed, {**meta, "content_sha256": tensor_digest(zeroed)})
    with pytest.raises(UserError, match="train split is not CIFAR-10"):
        load_cifar(tmp_path, train=True)
