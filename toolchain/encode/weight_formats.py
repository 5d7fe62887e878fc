"""The weight formats, one spec each: the single place that knows a format by its name.

A weight format is a WeightFormat below: its user-visible name (the CLI's and report.json's
"format"), the es_format_t value the blob records, which layers it can hold, its encoder(s),
the table, scratch and kept-RAM bytes it needs, its cost figures per ISA and its index bits.
select.py, costs.py, blob.py and the compression report read these specs; nothing else parses
a format name.

Palette formats come in three codings (Coding): raw, Huffman decoded at init into the arena,
Huffman decoded row by row during inference; CSR8 in two (raw, and csr8+huffman: its deltas
and values Huffman coded, decoded at init, a table of its own es_format_t, the encoder's
FORMAT, which the blob records). The user-visible name of a coded variant is the
format's name plus the coding's suffix ("palette-csr+huffman-stream"); parse() splits a name
into (WeightFormat, Coding) and is the only code that does.

Adding a format: its encoder module (encode(), table_bytes(), FORMAT, NAME, optionally
applicable() and ram_bytes()), its C kernels, one entry in FORMATS, its tests.

A leaf module apart from the encoders it names (and the toolchain.isa enum).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable, Mapping

import numpy as np

from toolchain.encode import block, csr, csr8_huffman, csr16, dense, nm, pairs, palette
from toolchain.encode import format as fmt
from toolchain.isa import Isa, lookup

NO_WEIGHTS = "none"  # Choice.format / report.json "format" of a layer without weights
HUFFMAN_MODES = ("init", "stream")  # palette streams Huffman decoded at init into RAM, or per row
# the ops whose kernels take any weight format; DEPTHWISE_CONV_2D takes dense and CSR16 only
SPARSE_OPS = frozenset({fmt.OpCode.FULLY_CONNECTED, fmt.OpCode.CONV_2D})


class Coding(IntEnum):
    """How a format's streams are stored: es_palette_t.coding for the palettes; CSR8 offers
    RAW and HUFFMAN (format.CSR8_HUFFMAN)."""

    RAW = palette.CODING_RAW
    HUFFMAN = palette.CODING_HUFFMAN_INIT  # decoded once at init into the arena
    HUFFMAN_STREAM = palette.CODING_HUFFMAN_STREAM  # decoded row by row, every inference

    @property
    def suffix(self) -> str:
        """What the coding appends to its format's name."""
        return _SUFFIX[self]

    @property
    def mode(self) -> str | None:
        """The Huffman decode mode (HUFFMAN_MODES), None when raw."""
        return _MODE[self]

    @property
    def huffman(self) -> bool:
        return self is not Coding.RAW

    @classmethod
    def for_mode(cls, mode: str | None) -> Coding:
        """The coding of Huffman decode mode `mode` ("init", "stream"; None: raw)."""
        for c in cls:
            if c.mode == mode:
                return c
        raise ValueError(f"Huffman decode mode must be one of {HUFFMAN_MODES}, got {mode!r}")


_SUFFIX = {Coding.RAW: "", Coding.HUFFMAN: "+huffman", Coding.HUFFMAN_STREAM: "+huffman-stream"}
_MODE = {Coding.RAW: None, Coding.HUFFMAN: "init", Coding.HUFFMAN_STREAM: "stream"}


@dataclass(frozen=True)
class KernelCost:
    """Instructions of a kernel per inner-loop unit and per output row (costs.py)."""

    per_unit: float
    per_output: float


def _no_scratch(cols: int) -> int:
    del cols
    return 0


def _no_extra(weights: np.ndarray) -> float:
    del weights
    return 0.0


@dataclass(frozen=True, eq=False)
class WeightFormat:
    """One weight format. Specs are singletons (compared and hashed by identity)."""

    name: str  # user-visible, raw coding: --format, report.json "format", benchmark rows
    id: fmt.WeightFormat  # es_format_t, es_layer_t.format
    encoders: Mapping[Coding, Any]  # per coding offered: encode(), table_bytes(), FORMAT, NAME
    costs: Mapping[Isa, KernelCost]  # per ISA with kernels of its own (isa.FALLBACK for others)
    units: Callable[[np.ndarray], int]  # what the kernel's inner loop iterates over (costs.py)
    index_bits: int | None = None  # bits per stored column index (palette: data dependent)
    ops: frozenset | None = SPARSE_OPS  # ops whose layers it can hold; None: every weighted op
    cols_multiple: int = 1  # the reduction length (columns) must be a multiple of this
    shared: bool = False  # weight sharing: a codebook and b-bit codes (palette formats)
    scratch: Callable[[int], int] = _no_scratch  # arena scratch from cols: es_matvec_scratch_bytes
    extra_cost: Callable[[np.ndarray], float] = _no_extra  # per output pixel, beyond units and rows
    refusal: Callable[[np.ndarray], str | None] = field(default=lambda w: None)  # why it cannot hold w
    # CONV_2D two pixels per pass (es_format_entry_t.conv2), per ISA; None: one pixel per pass
    conv2_costs: Mapping[Isa, KernelCost] | None = None
    # CONV_2D four pixels per pass (es_format_entry_t.conv4: the CSR formats), per ISA
    conv4_costs: Mapping[Isa, KernelCost] | None = None
    # DEPTHWISE_CONV_2D in this format (ES_VARIANT_DW_SPARSE), per ISA: per stored weight and
    # group of four output pixels, per channel and group; None: depthwise stays dense
    depthwise_costs: Mapping[Isa, KernelCost] | None = None

    def __repr__(self) -> str:
        return f"<weight format {self.name}>"

    # names and codings
    @property
    def codings(self) -> tuple[Coding, ...]:
        return tuple(self.encoders)

    def variant(self, coding: Coding = Coding.RAW) -> str:
        """The user-visible name of this format in `coding`."""
        if coding not in self.encoders:
            raise ValueError(f"weight format {self.name} has no {Coding(coding).name} coding")
        return self.name + Coding(coding).suffix

    def encoder(self, coding: Coding = Coding.RAW):
        return self.encoders[coding]

    def format_id(self, coding: Coding = Coding.RAW) -> fmt.WeightFormat:
        """The es_format_t a table in `coding` records (csr8+huffman has its own)."""
        return fmt.WeightFormat(getattr(self.encoders[coding], "FORMAT", self.id))

    # applicability
    def holds_op(self, opcode) -> bool:
        if opcode == fmt.OpCode.DEPTHWISE_CONV_2D and self.depthwise_costs is not None:
            return True
        return self.ops is None or opcode in self.ops

    def applicable(self, weights: np.ndarray) -> bool:
        """Whether the format can store this [rows, cols] int8 matrix (any coding)."""
        enc = self.encoders[Coding.RAW]
        return getattr(enc, "applicable", lambda w: True)(weights)

    def why_not(self, weights: np.ndarray) -> str:
        """Why the format cannot store the matrix (when applicable() is False)."""
        rows, cols = weights.shape
        if cols % self.cols_multiple:
            return f"its {cols} columns (reduction length) are not a multiple of {self.cols_multiple}"
        reason = self.refusal(weights)
        return reason or f"the [{rows}, {cols}] weight matrix exceeds the format's limits"

    # sizes
    def table_bytes(self, weights: np.ndarray, coding: Coding = Coding.RAW) -> int:
        return self.encoders[coding].table_bytes(weights)

    def scratch_bytes(self, cols: int) -> int:
        """Arena scratch the matvec kernel needs (runtime_c: es_matvec_scratch_bytes)."""
        return self.scratch(cols)

    def ram_bytes(self, weights: np.ndarray, coding: Coding = Coding.RAW) -> int:
        """Arena bytes the layer keeps across inferences (Huffman codings)."""
        return getattr(self.encoders[coding], "ram_bytes", lambda w: 0)(weights)

    def bits(self, weights: np.ndarray, coding: Coding = Coding.RAW) -> tuple[int | None, int | None]:
        """(index bits, codebook bits) of the matrix in this format, for the compression report."""
        info = getattr(self.encoders[coding], "info", None)
        if info is None:
            return self.index_bits, None
        i = info(weights)
        return i["index_bits"], i["codebook_bits"]

    # costs
    @property
    def conv2(self) -> bool:
        """Whether CONV_2D layers in this format run two output pixels per pass."""
        return self.conv2_costs is not None

    @property
    def conv4(self) -> bool:
        """Whether CONV_2D layers in this format run four output pixels per pass."""
        return self.conv4_costs is not None

    def cost(self, isa: Isa, conv: bool = False) -> KernelCost:
        """Per-unit and per-output cost of the kernel, per output pixel (conv: of a CONV_2D
        layer, whose pixels the format's two- or four-pixel kernel takes together)."""
        if conv and self.conv4:
            return lookup(self.conv4_costs, isa)
        return lookup(self.conv2_costs if conv and self.conv2 else self.costs, isa)

    def coding_cost(self, weights: np.ndarray, coding: Coding = Coding.RAW) -> float:
        """Instructions per output pixel the coding adds: decoding a row's Huffman stream
        during inference (coding 2); decoding at init costs nothing per inference."""
        if coding is not Coding.HUFFMAN_STREAM:
            return 0.0
        sparse = self.encoders[coding].sparse
        raw = palette.raw_stream(weights, sparse)
        return (HUFFMAN_STREAM_CSR_PER_BYTE if sparse else HUFFMAN_STREAM_PER_BYTE) * len(raw.stream)


# decoding one raw byte (coding 2), per inference: palette decodes each row into a row buffer
# for the raw kernel; palette-csr multiplies each entry as it is decoded, the bit buffer in
# registers (fitted to make compression's LeNet-5 and MLP built with --huffman-decode stream)
HUFFMAN_STREAM_PER_BYTE = 33.0
HUFFMAN_STREAM_CSR_PER_BYTE = 15.0
NM_PAIR_TABLE_PER_GROUP = 15.0  # building the 2:4 kernel's input pair table, per group of 4
PAIRS_WIDEN_PER_COLUMN = 2.0  # widening the pairs kernel's input to int16, per column


def _same(cost: KernelCost) -> dict[Isa, KernelCost]:
    return {Isa.DSP: cost, Isa.C: cost}


def _palette_refusal(sparse: bool) -> Callable[[np.ndarray], str]:
    def refusal(w: np.ndarray) -> str:
        n = len(palette.codebook(w, sparse))
        if sparse and not w.any():
            return "every weight is zero"
        return (f"its int8 weights take {n} distinct values{' (0 included)' if sparse else ''}, "
                f"more than the {1 << palette.MAX_BITS} a palette holds")
    return refusal


def _palette_encoders(sparse: bool) -> dict[Coding, Any]:
    return {Coding(e.coding): e for e in palette.ENCODERS if e.sparse == sparse}


DENSE = WeightFormat(
    dense.NAME, fmt.WeightFormat.DENSE, {Coding.RAW: dense},
    {Isa.DSP: KernelCost(1.65, 40.0), Isa.C: KernelCost(3.5, 45.0)},
    units=lambda w: int(w.size), ops=None,
    conv2_costs={Isa.DSP: KernelCost(1.2, 30.0), Isa.C: KernelCost(2.85, 35.0)})
CSR8 = WeightFormat(
    csr.NAME, fmt.WeightFormat.CSR8, {Coding.RAW: csr, Coding.HUFFMAN: csr8_huffman},
    _same(KernelCost(6.1, 51.0)),
    units=lambda w: int(csr.entries(w)[0].sum()), index_bits=8,
    conv4_costs={Isa.DSP: KernelCost(2.12, 11.6), Isa.C: KernelCost(3.05, 24.2)})
CSR16 = WeightFormat(
    csr16.NAME, fmt.WeightFormat.CSR16, {Coding.RAW: csr16},
    {Isa.DSP: KernelCost(4.12, 50.7), Isa.C: KernelCost(5.05, 51.0)},
    units=lambda w: int(np.count_nonzero(w)), index_bits=16,
    conv4_costs={Isa.DSP: KernelCost(2.12, 11.6), Isa.C: KernelCost(3.05, 24.2)},
    depthwise_costs={Isa.DSP: KernelCost(11.6, 86.0), Isa.C: KernelCost(16.7, 86.0)})
BLOCK1X4 = WeightFormat(
    block.NAME, fmt.WeightFormat.BLOCK1X4, {Coding.RAW: block},
    {Isa.DSP: KernelCost(10.0, 45.0), Isa.C: KernelCost(17.8, 51.0)},
    units=lambda w: int(block.arrays(w).entry_count), index_bits=16, cols_multiple=block.WIDTH,
    conv4_costs={Isa.DSP: KernelCost(4.8, 10.0), Isa.C: KernelCost(10.9, 22.3)})
NM24 = WeightFormat(
    nm.NAME, fmt.WeightFormat.NM24, {Coding.RAW: nm},
    {Isa.DSP: KernelCost(4.46, 51.0), Isa.C: KernelCost(16.0, 51.0)},
    units=lambda w: int(w.size // nm.M), index_bits=16, cols_multiple=nm.M,
    scratch=nm.scratch_bytes,
    extra_cost=lambda w: NM_PAIR_TABLE_PER_GROUP * w.shape[1] / nm.M,
    refusal=lambda w: f"a group of {nm.M} consecutive weights of a row holds more than {nm.N} nonzeros",
    conv4_costs={Isa.DSP: KernelCost(2.63, 11.6), Isa.C: KernelCost(10.8, 25.9)})
PALETTE = WeightFormat(
    "palette", fmt.WeightFormat.PALETTE, _palette_encoders(False), _same(KernelCost(8.3, 51.0)),
    units=lambda w: int(w.size), shared=True, refusal=_palette_refusal(False))
PALETTE_CSR = WeightFormat(
    "palette-csr", fmt.WeightFormat.PALETTE_CSR, _palette_encoders(True),
    _same(KernelCost(8.1, 51.0)),
    units=lambda w: len(palette.raw_stream(w, sparse=True).stream), shared=True,
    refusal=_palette_refusal(True))

PAIRS = WeightFormat(
    pairs.NAME, fmt.WeightFormat.PAIRS, {Coding.RAW: pairs},
    {Isa.DSP: KernelCost(3.38, 42.0), Isa.C: KernelCost(12.0, 52.0)},
    units=lambda w: int(pairs.pairs(w)[0].size), index_bits=16,
    ops=frozenset({fmt.OpCode.FULLY_CONNECTED}), scratch=pairs.scratch_bytes,
    extra_cost=lambda w: PAIRS_WIDEN_PER_COLUMN * w.shape[1])

FORMATS: tuple[WeightFormat, ...] = (DENSE, CSR8, CSR16, BLOCK1X4, NM24, PALETTE, PALETTE_CSR,
                                     PAIRS)

# every user-visible name -> (format, coding), in the order ties are broken (dense first, its
# kernel being the simplest; raw codings before Huffman ones)
_BY_NAME: dict[str, tuple[WeightFormat, Coding]] = {
    f.variant(c): (f, c) for c in Coding for f in FORMATS if c in f.encoders}
# es_format_t -> format: each spec's id, and the id of each coded variant with a table of its own
_BY_ID: dict[int, WeightFormat] = {int(getattr(e, "FORMAT", f.id)): f for f in FORMATS
                                   for e in f.encoders.values()}

NAMES: tuple[str, ...] = tuple(_BY_NAME)
# user-visible name -> encoder (a module or palette.PaletteEncoder)
ENCODERS: dict[str, Any] = {n: f.encoder(c) for n, (f, c) in _BY_NAME.items()}


def parse(name: str) -> tuple[WeightFormat, Coding]:
    """(format, coding) of a user-visible format name ("palette-csr+huffman" -> (PALETTE_CSR,
    Coding.HUFFMAN)); ValueError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"{name!r} is not a weight format (known: {', '.join(NAMES)})") from None


def find(name: str) -> tuple[WeightFormat, Coding] | None:
    """parse(name), or None when name is not a weight format (NO_WEIGHTS, a typo)."""
    return _BY_NAME.get(name)


def by_name(name: str) -> WeightFormat:
    return parse(name)[0]


def by_id(value: int) -> WeightFormat:
    """The format of an es_format_t value (not ES_FMT_NONE)."""
    try:
        return _BY_ID[int(value)]
    except KeyError:
        raise ValueError(f"{value} is not an es_format_t weight format value") from None


def coding_of(name: str) -> Coding | None:
    """The coding a format name spells, None when it is not a weight format."""
    found = find(name)
    return None if found is None else found[1]


def huffman_coded(name: str) -> bool:
    """Whether `name` is a Huffman-coded format (palette, csr8+huffman)."""
    c = coding_of(name)
    return c is not None and c.huffman


def decode_modes(name: str) -> bool:
    """Whether format `name` is Huffman coded and comes in both decode modes (the palettes;
    csr8+huffman decodes at init only)."""
    found = find(name)
    return found is not None and found[1].huffman and \
        all(Coding.for_mode(m) in found[0].encoders for m in HUFFMAN_MODES)


def with_coding(name: str, coding: Coding) -> str:
    """The same format in another coding ("palette+huffman", STREAM -> "palette+huffman-stream")."""
    return parse(name)[0].variant(coding)


def offered(name: str, huffman: str | None) -> bool:
    """Whether format `name` is a candidate when Huffman coding is asked for in decode mode
    `huffman` (HUFFMAN_MODES) or not at all (None): raw formats always are, Huffman-coded
    ones only in the mode asked for."""
    coding = parse(name)[1]
    return not coding.huffman or (huffman is not None and coding.mode == huffman)


def decode_mode(name: str) -> str:
    """The Huffman decode mode a format name implies: "stream" for the per-row variants,
    "init" for everything else (names that are not formats included)."""
    c = coding_of(name)
    return "stream" if c is Coding.HUFFMAN_STREAM else "init"
