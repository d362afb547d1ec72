"""Compare a committed reference JSON with one made again on this machine.

The numbers come from BLAS and LAPACK kernels (numpy's OpenBLAS, PyTorch's), whose choice
depends on the processor (and on OPENBLAS_CORETYPE): the same pinned versions give values
that differ in the last bits from machine to machine (seen: 2.2e-16 in a logistic
regression's probabilities). So floats are compared to a relative tolerance of 1e-12; the
structure, the integers and the strings must be equal.
"""

import math

REL = 1e-12


def differences(committed, fresh, path="", out=None):
    """Paths where `fresh` differs from `committed` beyond the tolerance (empty: equal)."""
    out = [] if out is None else out
    if isinstance(committed, dict) and isinstance(fresh, dict):
        for k in sorted(set(committed) | set(fresh)):
            if k not in committed or k not in fresh:
                out.append(f"{path}/{k}: only on one side")
            else:
                differences(committed[k], fresh[k], f"{path}/{k}", out)
    elif isinstance(committed, list) and isinstance(fresh, list):
        if len(committed) != len(fresh):
            out.append(f"{path}: {len(committed)} vs {len(fresh)} items")
        else:
            for i, (a, b) in enumerate(zip(committed, fresh)):
                differences(a, b, f"{path}[{i}]", out)
    elif isinstance(committed, float) or isinstance(fresh, float):
        ok = isinstance(committed, (int, float)) and isinstance(fresh, (int, float)) and (
            math.isclose(committed, fresh, rel_tol=REL, abs_tol=REL)
            or (math.isnan(committed) and math.isnan(fresh)))
        if not ok:
            out.append(f"{path}: {committed!r} vs {fresh!r}")
    elif committed != fresh:
        out.append(f"{path}: {committed!r} vs {fresh!r}")
    return out
