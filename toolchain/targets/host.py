"""Runs a generated model on the host through ctypes (the library from build_host_library)."""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from toolchain.encode import format as fmt
from toolchain.errors import RunError

# es_input_reader_t: (ctx, input, first_row, rows, dst)
_READER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32,
                           ctypes.c_void_p)

# es_model_t is opaque here: 8 pointer-sized-or-smaller fields; reserve generously.
_MODEL_T_BYTES = 256


class HostModel:
    """One initialised model instance: es_model_init on the library's es_model_blob with an
    8-byte-aligned arena of es_model_arena_bytes, or on `blob` (another plan of the same model:
    the library registers every op and format) with an arena of its header's arena_bytes."""

    def __init__(self, library: Path, blob: bytes | None = None):
        self.path = Path(library)
        try:
            self.lib = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise RunError(f"{self.path}: cannot load: {exc}") from None
        lib = self.lib
        lib.es_model_init.restype = ctypes.c_int
        lib.es_model_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                      ctypes.c_void_p, ctypes.c_uint32]
        lib.es_model_invoke.restype = ctypes.c_int
        lib.es_model_invoke.argtypes = [ctypes.c_void_p]
        lib.es_model_input.restype = ctypes.c_void_p
        lib.es_model_input.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                       ctypes.POINTER(ctypes.c_uint32)]
        lib.es_model_output.restype = ctypes.c_void_p
        lib.es_model_output.argtypes = [ctypes.c_void_p, ctypes.c_uint32,
                                        ctypes.POINTER(ctypes.c_uint32)]
        lib.es_status_name.restype = ctypes.c_char_p
        lib.es_status_name.argtypes = [ctypes.c_int]
        lib.es_model_input_tensor.restype = ctypes.c_void_p
        lib.es_model_input_tensor.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.es_model_set_input_reader.restype = ctypes.c_int
        lib.es_model_set_input_reader.argtypes = [ctypes.c_void_p, _READER, ctypes.c_void_p]

        blob_bytes = ctypes.c_uint32.in_dll(lib, "es_model_blob_bytes").value
        self.arena_bytes = ctypes.c_uint32.in_dll(lib, "es_model_arena_bytes").value
        blob_data = blob
        blob = (ctypes.c_uint8 * blob_bytes).in_dll(lib, "es_model_blob")
        if blob_data is not None:
            blob_bytes = len(blob_data)
            self._own = (ctypes.c_uint64 * ((blob_bytes + 7) // 8))()
            ctypes.memmove(self._own, blob_data, blob_bytes)
            blob = (ctypes.c_uint8 * blob_bytes).from_buffer(self._own)
            self.arena_bytes = fmt.HEADER.unpack(blob_data)["arena_bytes"]
        # uint64 elements give the 8-byte alignment the runtime requires.
        self._arena = (ctypes.c_uint64 * max(1, (self.arena_bytes + 7) // 8))()
        self._model = (ctypes.c_uint64 * (_MODEL_T_BYTES // 8))()
        self._blob = blob
        self._check(lib.es_model_init(self._model, ctypes.addressof(blob), blob_bytes,
                                      self._arena, self.arena_bytes), "es_model_init")
        n = ctypes.c_uint32(0)
        self._input = lib.es_model_input(self._model, 0, ctypes.byref(n))
        self.input_bytes = n.value
        self._output = lib.es_model_output(self._model, 0, ctypes.byref(n))
        self.output_bytes = n.value
        self.streamed = False
        if not self._input and self._output:
            # a streamed input (--stream-input): rows come through a reader, from the sample
            # being run
            t = lib.es_model_input_tensor(self._model, 0)
            record = fmt.TENSOR.unpack(ctypes.string_at(t, fmt.TENSOR.size)) if t else {}
            if record.get("flags") == fmt.TENSOR_STREAMED:
                self.streamed = True
                self.rows_read: list[tuple[int, int]] = []  # (first_row, rows) per call, last run()
                row_bytes = record["dims"][2] * record["dims"][3]
                self._sample = np.zeros(self.input_bytes, dtype=np.int8)

                def read_rows(ctx, index, first_row, rows, dst):
                    self.rows_read.append((first_row, rows))
                    ctypes.memmove(dst, self._sample.ctypes.data + first_row * row_bytes,
                                   rows * row_bytes)

                self._reader = _READER(read_rows)  # kept alive as long as the model
                self._check(lib.es_model_set_input_reader(self._model, self._reader, None),
                            "es_model_set_input_reader")
        if not (self._input or self.streamed) or not self._output:
            raise RunError(f"{self.path}: model has no input or output 0")

    def status_name(self, status: int) -> str:
        name = self.lib.es_status_name(status)
        return name.decode() if name else f"status {status}"

    def _check(self, status: int, what: str) -> None:
        if status != 0:
            raise RunError(f"{self.path}: {what} returned {self.status_name(status)}")

    def run(self, x_int8: np.ndarray) -> np.ndarray:
        """x_int8: [N, ...] int8 with input_bytes per sample -> int8 [N, output_bytes]."""
        x = np.asarray(x_int8)
        if x.dtype != np.int8:
            raise RunError(f"{self.path}: inputs must be int8, got {x.dtype}")
        x = np.ascontiguousarray(x.reshape(x.shape[0], -1))
        if x.shape[1] != self.input_bytes:
            raise RunError(f"{self.path}: each input must have {self.input_bytes} bytes, "
                           f"got {x.shape[1]}")
        out = np.empty((x.shape[0], self.output_bytes), dtype=np.int8)
        if self.streamed:
            self.rows_read.clear()
        for i in range(x.shape[0]):
            if self.streamed:
                self._sample = x[i]
            else:
                ctypes.memmove(self._input, x[i].ctypes.data, self.input_bytes)
            self._check(self.lib.es_model_invoke(self._model), f"es_model_invoke (sample {i})")
            ctypes.memmove(out[i].ctypes.data, self._output, self.output_bytes)
        return out


def init_status(library: Path, blob: bytes, arena_bytes: int | None = None, misalign: int = 0) -> str:
    """es_model_init's status name for an arbitrary byte string as the blob (for validation
    tests and fuzzing). The bytes are copied to an 8-byte-aligned buffer, shifted by misalign."""
    lib = ctypes.CDLL(str(library))
    lib.es_model_init.restype = ctypes.c_int
    lib.es_model_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                  ctypes.c_void_p, ctypes.c_uint32]
    lib.es_status_name.restype = ctypes.c_char_p
    buf = (ctypes.c_uint64 * ((len(blob) + misalign + 7) // 8 + 1))()
    ctypes.memmove(ctypes.addressof(buf) + misalign, blob, len(blob))
    if arena_bytes is None:
        arena_bytes = 1 << 20
    arena = (ctypes.c_uint64 * max(1, (arena_bytes + 7) // 8))()
    model = (ctypes.c_uint64 * (_MODEL_T_BYTES // 8))()
    status = lib.es_model_init(model, ctypes.addressof(buf) + misalign, len(blob), arena, arena_bytes)
    return lib.es_status_name(status).decode()
