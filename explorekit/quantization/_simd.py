"""AVX-512 lookup of 64 product-quantization codes at once (numba intrinsic, x86 only).

A lookup table of 256 float32 values is held in registers as four *byte planes* (byte ``b``
of every value: 256 bytes, four 64-byte registers each). ``vpermi2b`` (AVX-512 VBMI) picks
64 bytes of a plane by the codes' low seven bits, twice (entries 0-127 and 128-255), and the
codes' top bit chooses between the two; the four planes are then interleaved back into 64
float32 values. The values are the table's, bit for bit, so sums made of them are the same
as sums of scalar table reads added in the same order.

The interleaving (``vpunpck*``, within 128-bit lanes) leaves the 64 values in a fixed
order: position ``16 f + 4 l + e`` of the output holds row ``16 l + 4 f + e`` of the 64
(:data:`LANE_ROW`). Sums are accumulated in that order and put back in row order once.

numba's on-disk cache of the scan in :mod:`._pq_kernel` checks only that file: after changing
:data:`LANE_ROW` or the intrinsic here, delete ``explorekit/quantization/__pycache__/*.nb*``.

:func:`supported` says whether the machine numba compiles for has the instructions; only
then may :func:`make_lut64_add` be used in a compiled function (LLVM would stop the process
on an instruction it cannot emit).

Examples
--------
>>> int(LANE_ROW[4]), int(LANE_ROW[16])        # position 4 holds row 16, position 16 row 4
(16, 4)
"""

from __future__ import annotations

import platform

import numpy as np

LANES = 64
_POSITION = np.arange(LANES)
LANE_ROW = 16 * ((_POSITION // 4) % 4) + 4 * (_POSITION // 16) + _POSITION % 4
_FEATURES = ("avx512f", "avx512bw", "avx512vbmi")


def supported() -> bool:
    """True when numba compiles for an x86-64 CPU with AVX-512 F, BW and VBMI."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    import numba

    features = numba.config.CPU_FEATURES
    if features is None:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features().flatten()
    enabled = set(str(features).split(","))
    return all(f"+{name}" in enabled for name in _FEATURES)


def table_planes(tables: np.ndarray) -> np.ndarray:
    """``(..., 256)`` float32 tables -> ``(..., 1024)`` uint8: byte plane 0, 1, 2, 3.

    Examples
    --------
    >>> planes = table_planes(np.array([[1.0] * 256], np.float32))   # 1.0 = 0x3f800000
    >>> planes[0, ::256].tolist()
    [0, 0, 128, 63]
    """
    tables = np.ascontiguousarray(tables, dtype=np.float32)
    lead = tables.shape[:-1]
    as_bytes = tables.view(np.uint8).reshape(*lead, 256, 4)
    return np.ascontiguousarray(np.moveaxis(as_bytes, -1, -2)).reshape(*lead, 1024)


def _interleave(lanes: int, per_lane: int, high: bool) -> list[int]:
    """Shuffle mask of ``vpunpck{l,h}`` on two vectors of ``lanes`` x ``per_lane`` elements."""
    half = per_lane // 2
    mask = []
    for lane in range(lanes):
        for e in range(half):
            src = lane * per_lane + e + (half if high else 0)
            mask += [src, src + lanes * per_lane]
    return mask


def make_lut64_add():
    """The intrinsic ``lut64_add(acc, planes, codes, start, count, ahead, ahead_start)``.

    For ``p`` in ``range(count)`` (a multiple of 64), in blocks of 64,
    ``acc[p] += table[codes[start + row(p)]]`` with ``row`` the block's :data:`LANE_ROW`
    order; ``planes`` is one table from :func:`table_planes`. ``ahead[ahead_start + p]`` is
    prefetched (the codes a later call reads: the scan's rows are spread over many lines).
    """
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    i8, i16, i32, i64 = ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
    v64b, v32w, v16f = ir.VectorType(i8, 64), ir.VectorType(i16, 32), ir.VectorType(ir.FloatType(), 16)
    masks = {
        (w, h): ir.Constant(ir.VectorType(i32, 64 if w == 8 else 32), _interleave(4, 16 if w == 8 else 8, h))
        for w in (8, 16)
        for h in (False, True)
    }

    def pointer(context, builder, aryty, value):
        return cgutils.create_struct_proxy(aryty)(context, builder, value=value).data

    def vector_at(builder, base, offset, vtype):
        return builder.bitcast(builder.gep(base, [offset]), vtype.as_pointer())

    @intrinsic
    def lut64_add(typingctx, acc, planes, codes, start, count, ahead, ahead_start):
        sig = types.void(acc, planes, codes, start, count, ahead, ahead_start)

        def codegen(context, builder, signature, args):
            acc_p, planes_p, codes_p, _, _, ahead_p, _ = (
                pointer(context, builder, t, v) if isinstance(t, types.Array) else v
                for t, v in zip(signature.args, args)
            )
            start, count, ahead_start = args[3], args[4], args[6]
            module = builder.module
            permute = module.declare_intrinsic(
                "llvm.x86.avx512.vpermi2var.qi.512", fnty=ir.FunctionType(v64b, [v64b] * 3)
            )
            prefetch = module.declare_intrinsic(
                "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [i8.as_pointer(), i32, i32, i32])
            )
            table = [
                builder.load(vector_at(builder, planes_p, ir.Constant(i64, 64 * q), v64b), align=1) for q in range(16)
            ]
            blocks = builder.udiv(count, ir.Constant(count.type, 64))
            with cgutils.for_range(builder, blocks) as loop:
                at = builder.mul(loop.index, ir.Constant(loop.index.type, 64))
                builder.call(
                    prefetch,
                    [
                        builder.gep(ahead_p, [builder.add(ahead_start, at)]),
                        ir.Constant(i32, 0),
                        ir.Constant(i32, 3),
                        ir.Constant(i32, 1),
                    ],
                )
                index = builder.load(vector_at(builder, codes_p, builder.add(start, at), v64b), align=1)
                top = builder.icmp_signed("<", index, ir.Constant(v64b, None))
                planes_ = []
                for b in range(4):
                    low = builder.call(permute, [table[4 * b], index, table[4 * b + 1]])
                    high = builder.call(permute, [table[4 * b + 2], index, table[4 * b + 3]])
                    planes_.append(builder.select(top, high, low))
                pairs = [
                    builder.bitcast(builder.shuffle_vector(planes_[a], planes_[a + 1], masks[8, h]), v32w)
                    for a in (0, 2)
                    for h in (False, True)
                ]  # l01, h01, l23, h23
                values = [
                    builder.shuffle_vector(pairs[x], pairs[x + 2], masks[16, h]) for x in (0, 1) for h in (False, True)
                ]
                for f, value in enumerate(values):
                    target = vector_at(builder, acc_p, builder.add(at, ir.Constant(at.type, 16 * f)), v16f)
                    total = builder.fadd(builder.load(target, align=4), builder.bitcast(value, v16f))
                    builder.store(total, target, align=4)
            return context.get_dummy_value()

        return sig, codegen

    return lut64_add
