"""The IDX reader and the Fashion-MNIST locator on small files written here, and on the real files (marked data)."""

import gzip
import hashlib

import numpy as np
import pytest

from bmnn._checks import DataFileError
from bmnn.datasets import FASHION_MNIST, load_fashion_mnist, locate_fashion_mnist, read_idx


def idx_bytes(arr: np.ndarray) -> bytes:
    magic = 2051 if arr.ndim == 3 else 2049
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write_set(folder, n_train=5, n_test=3, compress=True):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        data = idx_bytes(arr)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_roundtrip(tmp_path, compress):
    arrays = write_set(tmp_path, compress=compress)
    name = "train-images-idx3-ubyte"
    path = tmp_path / (f"{name}.gz" if compress else name)
    got = read_idx(path, hashlib.sha256(idx_bytes(arrays[name])).hexdigest())
    np.testing.assert_array_equal(got, arrays[name])


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b[:-10], "truncated: .* bytes, but dimensions \\(5, 28, 28\\) need"),
        (lambda b: b + b"\x00", "has trailing bytes"),
        (lambda b: (2052).to_bytes(4, "big") + b[4:], "magic number 2052, expected 2049 .labels. or 2051 .images."),
        (lambda b: b[:5], "too short for an IDX header|truncated header"),
    ],
)
def test_bad_idx_files(tmp_path, mangle, message):
    arrays = write_set(tmp_path, compress=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mangle(idx_bytes(arrays["train-images-idx3-ubyte"])))
    with pytest.raises(DataFileError, match=message):
        read_idx(path)


def test_hash_mismatch_and_corrupt_gzip(tmp_path):
    write_set(tmp_path)
    with pytest.raises(DataFileError, match="SHA-256 of the decompressed bytes is"):
        read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", "0" * 64)
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataFileError, match="bad.gz: cannot be read or decompressed"):
        read_idx(tmp_path / "bad.gz")


def test_locator_order_and_messages(tmp_path, monkeypatch):
    write_set(tmp_path / "env")
    monkeypatch.setenv("BMNN_DATA_DIR", str(tmp_path / "env"))
    found = locate_fashion_mnist()
    assert found["t10k-labels-idx1-ubyte"].parent == tmp_path / "env"
    write_set(tmp_path / "explicit", compress=False)
    assert locate_fashion_mnist(tmp_path / "explicit")["t10k-labels-idx1-ubyte"].parent == tmp_path / "explicit"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match="data folder .* lacks train-images-idx3-ubyte"):
        locate_fashion_mnist(tmp_path / "empty")
    d = load_fashion_mnist(tmp_path / "explicit", verify=False)
    assert d["x_train"].shape == (5, 784) and d["y_test"].shape == (3,)
    with pytest.raises(DataFileError, match="SHA-256"):
        load_fashion_mnist(tmp_path / "explicit", verify=True)


def test_not_found_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("BMNN_DATA_DIR", raising=False)
    monkeypatch.setattr("bmnn.datasets.DEBIAN_DIR", tmp_path / "none")
    monkeypatch.setattr("pathlib.Path.home", lambda: tmp_path)
    with pytest.raises(DataFileError, match="apt-get install dataset-fashion-mnist.*name it as the data folder"):
        locate_fashion_mnist()


@pytest.mark.data
def test_real_fashion_mnist_verifies():
    d = load_fashion_mnist()
    assert d["x_train"].shape == (60000, 784) and d["x_test"].shape == (10000, 784)
    assert np.bincount(d["y_train"]).tolist() == [6000] * 10
    assert set(FASHION_MNIST) == {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                  "t10k-labels-idx1-ubyte"}
