"""Fashion-MNIST from Debian's dataset-fashion-mnist package: gzip'ed idx files (a big-endian
magic 0x0000_08_<ndim>, ndim big-endian uint32 sizes, then uint8 data)."""
import gzip
import os
import struct

import numpy as np

DATA_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530  # the training images' mean and std of pixel/255


def read_idx(path):
    with gzip.open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 4 or blob[0] != 0 or blob[1] != 0 or blob[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (magic {blob[:4].hex()})")
    ndim = blob[3]
    dims = struct.unpack(f">{ndim}I", blob[4:4 + 4 * ndim])
    data = np.frombuffer(blob, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data, dimensions {dims} need {int(np.prod(dims))}")
    return data.reshape(dims)


def load(split, data_dir=DATA_DIR, limit=0):
    """(images float32 [n, 784] normalized, labels int64 [n], the two file paths)."""
    image_file, label_file = (os.path.join(data_dir, f) for f in FILES[split])
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{image_file}: {images.shape[0]} images but {labels.shape[0]} labels")
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = (images.reshape(images.shape[0], -1).astype(np.float32) / 255.0 - PIXEL_MEAN) / PIXEL_STD
    return x, labels.astype(np.int64), (image_file, label_file)
