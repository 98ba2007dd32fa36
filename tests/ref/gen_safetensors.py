#!/usr/bin/env python3
"""Reference safetensors files written by the Python `safetensors` package,
for tests/unit/test_safetensors.c (reading what the reference wrote).

Usage: gen_safetensors.py OUTDIR

Writes st_f32, st_f16, st_bf16, st_f64 and st_ints .safetensors, and
st_expected.safetensors holding, for every float tensor "<file>/<name>", its
values converted to float32 by PyTorch (exact for F16/BF16; round to nearest
for F64)."""
import os
import sys

import torch
from safetensors.torch import save_file

INF, NAN = float("inf"), float("nan")


def special_f16():
    # zero, -zero, normal values, the largest finite, the smallest normal,
    # subnormals (smallest, largest, one in between), inf, -inf, NaN
    bits = [0x0000, 0x8000, 0x3C00, 0xC000, 0x3555, 0x7BFF, 0xFBFF, 0x0400, 0x0001, 0x03FF,
            0x0155, 0x8001, 0x7C00, 0xFC00, 0x7E00, 0xFE01]
    return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(torch.float16)


def special_bf16():
    bits = [0x0000, 0x8000, 0x3F80, 0xC000, 0x7F7F, 0xFF7F, 0x0080, 0x0001, 0x007F, 0x8001,
            0x7F80, 0xFF80, 0x7FC0, 0x3EAB]
    return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)


def special_f64():
    vals = [0.0, -0.0, 1.0, -2.5, 1.0 / 3.0, 3.4028234663852886e38, 3.4028235677973366e38,  # rounds to FLT_MAX
            3.4028235677973367e38, 1e39, -1e300, 1e-40, 1e-46, 1e-45, 7e-46, 1.0000000596046448,  # a tie
            INF, -INF, NAN, 123456789.123]
    return torch.tensor(vals, dtype=torch.float64)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/ref"
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    files = {
        "f32": {"matrix": torch.randn(3, 5, generator=g), "scalar": torch.tensor(-1.25),
                "empty": torch.zeros(0, 4), "vec": torch.randn(7, generator=g),
                "cube": torch.randn(2, 3, 4, generator=g)},
        "f16": {"special": special_f16(), "rand": torch.randn(4, 6, generator=g).half(),
                "scalar": torch.tensor(0.5, dtype=torch.float16)},
        "bf16": {"special": special_bf16(), "rand": torch.randn(5, 3, generator=g).bfloat16()},
        "f64": {"special": special_f64(), "rand": torch.randn(2, 2, generator=g).double()},
    }
    expected = {}
    for fname, tensors in files.items():
        save_file(tensors, os.path.join(out, f"st_{fname}.safetensors"),
                  metadata={"format": "pt", "source": f"gen_safetensors.py {fname}"})
        for name, t in tensors.items():
            expected[f"{fname}/{name}"] = t.float().contiguous()
    ints = {
        "bool": torch.tensor([True, False, True]),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "i16": torch.tensor([[-32768, 32767], [-2, 3]], dtype=torch.int16),
        "u16": torch.tensor([0, 65535, 1234], dtype=torch.uint16),
        "i32": torch.tensor([-2147483648, 2147483647, 42], dtype=torch.int32),
        "u32": torch.tensor([0, 4294967295, 7], dtype=torch.uint32),
        "i64": torch.tensor([-9223372036854775808, 9223372036854775807, -5], dtype=torch.int64),
        "u64": torch.tensor([0, 1, 2 ** 63 + 11], dtype=torch.uint64),
        "f32_among_ints": torch.tensor([1.5, -0.25]),
    }
    save_file(ints, os.path.join(out, "st_ints.safetensors"), metadata={"format": "pt", "note": "h\u00e9llo \u2713"})
    save_file(expected, os.path.join(out, "st_expected.safetensors"))


if __name__ == "__main__":
    main()
