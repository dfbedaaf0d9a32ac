"""Hugging Face's safetensors format, read and written with the standard library and numpy
(Debian ships no safetensors package): an 8-byte little-endian header length N, N bytes of
JSON {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw
little-endian C-order data; offsets are relative to the first byte after the header and cover
the data without holes or overlaps."""
import json
import os
import struct

import numpy as np

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8"),
          "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"), "U8": np.dtype("u1"),
          "BOOL": np.dtype("?")}
NAMES = {v: k for k, v in DTYPES.items()}
HEADER_ALIGNMENT = 8  # the header is padded with spaces so the data starts 8-byte aligned


class SafetensorsError(ValueError):
    pass


def dtype_name(array):
    dt = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    for name, known in DTYPES.items():
        if known == dt:
            return name
    raise SafetensorsError(f"dtype {array.dtype} has no safetensors name (allowed: {', '.join(DTYPES)})")


def save(path, tensors, metadata=None):
    """Writes `tensors` (name -> numpy array) to `path` atomically (a temporary file renamed)."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])  # (ascontiguousarray would turn a 0-d array into 1-d)
        kind = dtype_name(a)
        raw = a.astype(DTYPES[kind], copy=False).tobytes(order="C")  # C order whatever the strides
        header[name] = {"dtype": kind, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("__metadata__ must map strings to strings")
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % HEADER_ALIGNMENT)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
    os.replace(tmp, path)


def load(path):
    """Returns (tensors, metadata); checks that the header is consistent with the file."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise SafetensorsError(f"{path}: {len(blob)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise SafetensorsError(f"{path}: header length {n} exceeds the file ({len(blob)} bytes)")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    metadata = header.pop("__metadata__", {})
    data = memoryview(blob)[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        if info.get("dtype") not in DTYPES:
            raise SafetensorsError(f"{path}: tensor {name}: dtype {info.get('dtype')} unknown")
        dt = DTYPES[info["dtype"]]
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(o) for o in info["data_offsets"])
        expected = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if end - begin != expected:
            raise SafetensorsError(f"{path}: tensor {name}: data_offsets span {end - begin} bytes, "
                                   f"shape {shape} of {info['dtype']} needs {expected}")
        if begin < 0 or end > len(data):
            raise SafetensorsError(f"{path}: tensor {name}: data_offsets [{begin}, {end}] beyond the "
                                   f"{len(data)} data bytes")
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(data[begin:end], dtype=dt).reshape(tuple(shape)).copy()
    spans.sort()
    cursor = 0
    for begin, end, name in spans:
        if begin != cursor:
            raise SafetensorsError(f"{path}: tensor {name} starts at {begin}, expected {cursor} (hole or overlap)")
        cursor = end
    if cursor != len(data):
        raise SafetensorsError(f"{path}: {len(data) - cursor} data bytes after the last tensor")
    return tensors, metadata
