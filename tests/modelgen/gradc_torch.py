"""gradc_torch.py - the .grad language on PyTorch, for the independent oracle.

Programs that tests/modelgen/TorchTranslator.cpp writes import this module.
It implements the language's builtins and prelude functions with PyTorch's
own operations (torch.var, F.gelu, F.layer_norm, F.cross_entropy, ...),
written from the language's documentation, not from frontend/Prelude.grad,
so a semantic mistake in the compiler shows up as a difference here.

Everything runs in float64: the oracle compares with our f64 build. User
names arrive mangled (u_NAME); builtins are b_NAME, prelude functions
p_NAME, operators g_NAME. Function parameters are u_-prefixed everywhere so
keyword arguments look the same whatever the callee.
"""
import math

import torch
import torch.nn.functional as F

DT = torch.float64
DEFAULT = object()  # an omitted argument with a default


class NotTranslated(Exception):
    """A construct of the model that the translation does not express (or
    expresses only as a placeholder such as G.bad_member()): the case cannot
    be compared with PyTorch. torch_oracle.py reports it as such, never as
    agreeing."""


class Context:
    """Where inputs and parameters come from, the scope of the current call,
    and what the model outputs."""

    def __init__(self):
        self.inputs, self.params = {}, {}
        self.scopes, self.outputs, self.metrics = [], {}, {}
        self.used = set()
        # Every parameter the run has declared, by full name: the value a
        # dotted read gives (the zeros of one the compiled model dropped).
        self.declared = {}
        # training(): true in the gradients entry (the "point:" values), false
        # in eval and predict; torch_oracle.py runs the model once for each.
        self.training = True

    def _check(self, kind, name, value, dims, dtype):
        want = [int(d) for d in dims]
        if value is None:
            # The compiled model dropped a tensor nothing reads: any value
            # gives the same results.
            return torch.zeros(want, dtype={"i32": torch.int32, "bool": torch.bool}.get(dtype, DT))
        if list(value.shape) != want:
            raise ValueError(f"{kind} '{name}' is {list(value.shape)}, declared {want}")
        return value

    def input(self, name, dims, dtype):
        return self._check("input", name, self.inputs.get(name), dims, dtype)

    def param(self, name, dims, dtype):
        full = ".".join(self.scopes + [name])
        self.used.add(full)
        self.declared[full] = self._check("param", full, self.params.get(full), dims, dtype)
        return self.declared[full]

    def call(self, parts, fn, *args, **kwargs):
        saved = list(self.scopes)
        self.scopes += [str(p) for p in parts]
        try:
            return fn(*args, **kwargs)
        finally:
            self.scopes = saved

    def read_param(self, parts):
        """`fc.weight`, `blocks[1].fc.weight`: a parameter that a scoped call
        declared, named relative to the scope of the running function, as the
        language resolves it. (For TorchTranslator.cpp to emit for
        Expr::Member, with parts as scope() writes them.)"""
        full = ".".join(self.scopes + [str(p) for p in parts])
        if full not in self.declared:
            raise NotTranslated(f"'{full}' names no parameter the model has declared by then (a dotted name reads a "
                                "parameter that a scoped call declared)")
        return self.declared[full]

    # Placeholders TorchTranslator.cpp writes for what it cannot translate.
    def bad_member(self):
        raise NotTranslated("reading a scoped parameter by its dotted name (fc.weight, blocks[0].fc.weight) is not "
                            "translated: TorchTranslator.cpp writes G.bad_member() for Expr::Member")

    def bad_scope(self):
        raise NotTranslated("a call scope that is not a name, member or index is not translated: "
                            "TorchTranslator.cpp writes G.bad_scope()")

    def output(self, name, value):
        self.outputs[name] = value

    def metric(self, name, value):
        self.metrics[name] = value


G = Context()


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _tensor(v):
    return isinstance(v, torch.Tensor)


def _is_float(t):
    return t.dtype in (torch.float32, torch.float64)


def _as_tensor(v, like_dtype):
    """A number or bool beside a tensor adopts the tensor's dtype."""
    if _tensor(v):
        return v
    return torch.tensor(v, dtype=like_dtype)


def _pair(a, b):
    dtype = a.dtype if _tensor(a) else b.dtype
    if _tensor(a) and _tensor(b) and a.dtype != b.dtype:
        raise TypeError(f"operands have different dtypes: {a.dtype} and {b.dtype}")
    return _as_tensor(a, dtype), _as_tensor(b, dtype)


# --- operators -------------------------------------------------------------

def _fold_div(a, b):
    if b == 0:
        raise ZeroDivisionError("division by zero in a constant expression")
    if isinstance(a, int) and isinstance(b, int):
        # Integers that divide exactly stay integers (shapes like C / H).
        if a % b == 0:
            return _trunc_div(a, b)
        return a / b
    return a / b


def _trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def g_add(a, b):
    if not _tensor(a) and not _tensor(b):
        return a + b
    x, y = _pair(a, b)
    return x + y


def g_sub(a, b):
    if not _tensor(a) and not _tensor(b):
        return a - b
    x, y = _pair(a, b)
    return x - y


def g_mul(a, b):
    if not _tensor(a) and not _tensor(b):
        return a * b
    x, y = _pair(a, b)
    return x * y


def g_div(a, b):
    if not _tensor(a) and not _tensor(b):
        return _fold_div(a, b)
    x, y = _pair(a, b)
    if not _is_float(x):
        # As gradc: '/' is true division, which i32 operands cannot hold.
        raise TypeError("'/' is true division, which i32 operands cannot hold")
    return x / y


def g_mod(a, b):
    # The sign of the divisor, as Python's % (constants) and torch.remainder.
    if not _tensor(a) and not _tensor(b):
        if b == 0:
            raise ZeroDivisionError("division by zero in a constant expression")
        return a % b
    x, y = _pair(a, b)
    return torch.remainder(x, y)


def g_floordiv(a, b):
    # Rounds toward minus infinity, as Python's // (constants) and
    # torch.div(rounding_mode="floor") do.
    if not _tensor(a) and not _tensor(b):
        if b == 0:
            raise ZeroDivisionError("division by zero in a constant expression")
        return a // b
    x, y = _pair(a, b)
    return torch.div(x, y, rounding_mode="floor")


def _compare(a, b, op):
    if not _tensor(a) and not _tensor(b):
        return op(a, b)
    x, y = _pair(a, b)
    return op(x, y)


def g_lt(a, b): return _compare(a, b, lambda x, y: x < y)
def g_le(a, b): return _compare(a, b, lambda x, y: x <= y)
def g_gt(a, b): return _compare(a, b, lambda x, y: x > y)
def g_ge(a, b): return _compare(a, b, lambda x, y: x >= y)
def g_eq(a, b): return _compare(a, b, lambda x, y: x == y)
def g_ne(a, b): return _compare(a, b, lambda x, y: x != y)


def g_and(a, b):
    if not _tensor(a) and not _tensor(b):
        return a and b
    return torch.logical_and(_as_tensor(a, torch.bool), _as_tensor(b, torch.bool))


def g_or(a, b):
    if not _tensor(a) and not _tensor(b):
        return a or b
    return torch.logical_or(_as_tensor(a, torch.bool), _as_tensor(b, torch.bool))


def g_neg(x):
    if _tensor(x) and not _is_float(x):
        return torch.zeros_like(x) - x
    return -x


def g_not(x):
    if _tensor(x):
        return torch.logical_not(x)
    return not x


def g_unknown(a, b):
    raise NotTranslated("a binary operator TorchTranslator.cpp does not know (it writes g_unknown)")


def g_matmul(a, b):
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError("'@' needs operands of rank 2 or more")
    return torch.matmul(a, b)


def g_range(lo, hi):
    return range(lo, hi)


def g_truth(c):
    if not isinstance(c, bool):
        raise TypeError("'if' needs a compile-time true or false")
    return c


def g_index(x, items):
    if isinstance(x, list):
        return x[items[0][0]]
    key = []
    for d, it in enumerate(items):
        n = x.shape[d]
        if len(it) == 1:
            i = it[0] + n if it[0] < 0 else it[0]
            if not 0 <= i < n:
                raise IndexError(f"index {it[0]} out of range for dimension {d}")
            key.append(i)
        else:
            lo = 0 if it[0] is None else (it[0] + n if it[0] < 0 else it[0])
            hi = n if it[1] is None else (it[1] + n if it[1] < 0 else it[1])
            if lo < 0 or hi > n or lo >= hi:
                raise IndexError(f"slice {lo}:{hi} empty or out of range for dimension {d}")
            key.append(slice(lo, hi))
    return x[tuple(key)]


# --- builtins ----------------------------------------------------------------

def _unary(fold, op):
    def f(u_x):
        if _num(u_x):
            return fold(u_x)
        if not _is_float(u_x):
            raise TypeError("needs a float tensor")
        return op(u_x)
    return f


b_exp = _unary(math.exp, torch.exp)
b_log = _unary(math.log, torch.log)
b_sqrt = _unary(math.sqrt, torch.sqrt)
b_tanh = _unary(math.tanh, torch.tanh)
b_sin = _unary(math.sin, torch.sin)
b_cos = _unary(math.cos, torch.cos)
b_stop_gradient = _unary(lambda x: x, lambda x: x.detach())
b_expm1 = _unary(math.expm1, torch.expm1)
b_log1p = _unary(math.log1p, torch.log1p)
b_rsqrt = _unary(lambda x: 1 / math.sqrt(x), torch.rsqrt)
b_erf = _unary(math.erf, torch.erf)
b_round = _unary(lambda x: x if isinstance(x, int) else float(round(x)), torch.round)
b_ceil = _unary(lambda x: x if isinstance(x, int) else float(math.ceil(x)), torch.ceil)
b_floor = _unary(lambda x: x if isinstance(x, int) else float(math.floor(x)), torch.floor)
# abs, unlike the math functions, takes integer tensors too (gradc's abs of i32 is i32).
b_abs = lambda u_x: abs(u_x) if _num(u_x) else torch.abs(u_x)
b_sign = _unary(lambda x: (x > 0) - (x < 0), torch.sign)
b_pi = math.pi

# Initialisers: values come from the case, so these only stand for themselves.
b_zeros = b_ones = b_xavier_uniform = b_xavier_normal = b_he_uniform = b_he_normal = "initialiser"


def b_normal(u_std): return "initialiser"
def b_uniform(u_low, u_high): return "initialiser"
def b_constant(u_value): return "initialiser"


def b_maximum(u_a, u_b):
    if _num(u_a) and _num(u_b):
        return max(u_a, u_b)
    x, y = _pair(u_a, u_b)
    return torch.maximum(x, y)


def b_minimum(u_a, u_b):
    if _num(u_a) and _num(u_b):
        return min(u_a, u_b)
    x, y = _pair(u_a, u_b)
    return torch.minimum(x, y)


def b_pow(u_x, u_y):
    if _num(u_x) and _num(u_y):
        return math.pow(u_x, u_y)
    x, y = _pair(u_x, u_y)
    return torch.pow(x, y)


def b_clamp(u_x, u_low, u_high):
    if _num(u_x) and _num(u_low) and _num(u_high):
        return min(max(u_x, u_low), u_high)
    dtype = next(v.dtype for v in (u_x, u_low, u_high) if _tensor(v))
    # gradc's clamp broadcasts all three operands (torch.clamp keeps x's
    # shape). Its values are torch.clamp's; at ties its subgradient goes to
    # one operand, by the convention gradc documents (x when low <= x <=
    # high, low when x < low, high when above high or when low > high),
    # where torch.clamp splits it between bounds that are equal
    # (campaign seed 41394: clamp(x, gather(p, i), p)).
    x, low, high = torch.broadcast_tensors(*(_as_tensor(v, dtype) for v in (u_x, u_low, u_high)))
    not_above = torch.maximum(x, low).detach() <= high.detach()
    return torch.where(not_above, torch.where(x.detach() >= low.detach(), x, low), high)


def b_where(u_cond, u_a, u_b):
    dtype = u_a.dtype if _tensor(u_a) else u_b.dtype if _tensor(u_b) else DT
    if isinstance(u_cond, bool):  # a compile-time condition: where(true, a, b)
        u_cond = torch.tensor(u_cond)
    return torch.where(u_cond, _as_tensor(u_a, dtype), _as_tensor(u_b, dtype))


def _axes(x, axis):
    r = x.dim()
    if axis is None:
        return list(range(r))
    items = axis if isinstance(axis, list) else [axis]
    out = []
    for a in items:
        if not -r <= a < r:
            raise IndexError(f"axis {a} out of range for rank {r}")
        out.append(a + r if a < 0 else a)
    return sorted(set(out))


def _reduce(op, x, axis, keepdims):
    axes = _axes(x, axis)
    if not axes:
        return x
    return op(x, dim=axes, keepdim=keepdims)


def b_sum(u_x, u_axis=None, u_keepdims=False):
    return _reduce(torch.sum, u_x, u_axis, u_keepdims)


def b_max(u_x, u_axis=None, u_keepdims=False):
    return _reduce(torch.amax, u_x, u_axis, u_keepdims)


def b_numel(u_x, u_axis=None):
    return math.prod(u_x.shape[a] for a in _axes(u_x, u_axis))


def b_dim(u_x, u_axis):
    return u_x.shape[_axes(u_x, u_axis)[0]]


def b_shape(u_x):
    return list(u_x.shape)


def b_reshape(u_x, u_shape):
    return u_x.reshape([int(d) for d in u_shape])


def b_transpose(u_x, u_perm=None):
    if u_perm is None:
        return u_x.transpose(-1, -2)
    r = u_x.dim()
    perm = u_perm if isinstance(u_perm, list) else [u_perm]
    return u_x.permute([p + r if p < 0 else p for p in perm])


def b_concat(u_xs, u_axis=0):
    return torch.cat(u_xs, dim=_axes(u_xs[0], u_axis)[0])


def b_arange(u_n):
    return torch.arange(u_n, dtype=torch.int32)


def b_onehot(u_idx, u_n):
    # An index outside [0, n) gives a row of zeros (README), where
    # F.one_hot raises.
    return (u_idx.long().unsqueeze(-1) == torch.arange(u_n)).to(DT)


def b_gather(u_table, u_idx):
    # An index computed out of range is clamped into the table (README).
    return u_table[u_idx.long().clamp(0, u_table.shape[0] - 1)]


def b_float(u_x):
    if _num(u_x):
        return float(u_x)
    return u_x.to(DT)


def _i32_number(x):
    # i32(): toward zero, saturating at the i32 range, NaN to 0.
    if isinstance(x, int):
        return max(min(x, 2**31 - 1), -2**31)
    if x != x:
        return 0
    return int(math.trunc(max(min(x, 2147483647.0), -2147483648.0)))


def _i32_tensor(t):
    if t.dtype == torch.int32:
        return t
    if _is_float(t):
        t = torch.nan_to_num(t.detach(), nan=0.0, posinf=2147483647.0, neginf=-2147483648.0)
        return torch.trunc(t.clamp(-2147483648.0, 2147483647.0)).to(torch.int32)
    return t.to(torch.int32)  # bool: 0 or 1


def b_i32(u_x):
    """i32(x): a number converts now (an integer); a tensor of any dtype
    becomes i32, floats toward zero, saturating, NaN to 0."""
    if _num(u_x):
        return _i32_number(u_x)
    return _i32_tensor(u_x)


def b_f64(u_x):
    """f64(x): numbers become floats; tensors f64 (the gradient passes)."""
    if _num(u_x):
        return float(u_x)
    return u_x.to(torch.float64)


# f32(x) converts to the type f32 stands for, which is f64 in the f64 build
# these cases come from.
b_f32 = b_f64


def b_len(u_x):
    """len(x): the items of a list, or the bytes of a string (UTF-8)."""
    if isinstance(u_x, list):
        return len(u_x)
    if isinstance(u_x, str):
        return len(u_x.encode("utf-8"))
    raise TypeError(f"len takes a list or a string, got {type(u_x).__name__}")


def _murmur_number(a, b):
    # ir/Ops.h murmurMix: murmur3_32 of the 4-byte key a with seed b, on
    # i32 values (toward zero, saturating, NaN 0).
    m = 0xFFFFFFFF
    k, h = _i32_number(a) & m, _i32_number(b) & m
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m  # noqa: E731
    k = (k * 0xCC9E2D51) & m
    k = rotl(k, 15)
    k = (k * 0x1B873593) & m
    h ^= k
    h = rotl(h, 13)
    h = (h * 5 + 0xE6546B64) & m
    h ^= 4
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & m
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & m
    h ^= h >> 16
    return h - (1 << 32) if h >= 1 << 31 else h


def _murmur_tensor(a, b):
    m = 0xFFFFFFFF
    k, h = (t.to(torch.int64) & m for t in torch.broadcast_tensors(a, b))
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m  # noqa: E731
    k = (k * 0xCC9E2D51) & m
    k = rotl(k, 15)
    k = (k * 0x1B873593) & m
    h = h ^ k
    h = rotl(h, 13)
    h = (h * 5 + 0xE6546B64) & m
    h = h ^ 4
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & m
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & m
    h = h ^ (h >> 16)
    return torch.where(h >= 1 << 31, h - (1 << 32), h).to(torch.int32)


def b_hash(u_a, u_b):
    """hash(a, b): murmur3_32 of a with seed b, elementwise on i32."""
    if _num(u_a) and _num(u_b):
        r = _murmur_number(u_a, u_b)
        return r if isinstance(u_a, int) and isinstance(u_b, int) else float(r)
    x, y = _pair(u_a, u_b)
    if x.dtype != torch.int32:
        raise TypeError(f"hash needs i32 operands, got {x.dtype}")
    return _murmur_tensor(x, y)


def b_training():
    return torch.tensor(G.training)


def b_error(u_message, u_value=None):
    # gradc stops at compile time where error() is reached; a model that
    # compiled never reaches it, so the translation took another path.
    raise RuntimeError(f"error() reached in PyTorch, never in gradc: {u_message}"
                       + ("" if u_value is None else f" ({u_value})"))


def _random(what):
    def f(*args, **kwargs):
        # The model's random numbers are gradc's hash of (seed, step, call
        # site, element), which PyTorch has no way to draw.
        raise NotTranslated(f"{what}() draws gradc's own random numbers, which PyTorch cannot reproduce")
    return f


b_rand_uniform = _random("rand_uniform")
b_rand_normal = _random("rand_normal")
b_rand_bits = _random("rand_bits")


def b_full(u_shape, u_value):
    shape = u_shape if isinstance(u_shape, list) else [u_shape]
    return torch.full(shape, float(u_value), dtype=DT)


# --- the prelude, in PyTorch's own words ----------------------------------------

def p_square(u_x): return g_mul(u_x, u_x)
def p_identity(u_x): return u_x
def p_relu(u_x): return max(u_x, 0) if _num(u_x) else torch.relu(u_x)
def p_sigmoid(u_x): return 1 / (1 + math.exp(-u_x)) if _num(u_x) else torch.sigmoid(u_x)
def p_gelu(u_x, u_approximate="tanh"): return F.gelu(u_x, approximate=u_approximate)
def p_softmax(u_x, u_axis=-1): return torch.softmax(u_x, dim=u_axis)
def p_log_softmax(u_x, u_axis=-1): return torch.log_softmax(u_x, dim=u_axis)


def p_mean(u_x, u_axis=None, u_keepdims=False):
    return _reduce(torch.mean, u_x, u_axis, u_keepdims)


def p_variance(u_x, u_axis=None, u_keepdims=False):
    axes = _axes(u_x, u_axis)
    if not axes:
        return torch.zeros_like(u_x)
    return torch.var(u_x, dim=axes, unbiased=False, keepdim=u_keepdims)


def p_linear(u_x, u_n_out, u_init=None, u_use_bias=True):
    w = G.param("weight", [u_x.shape[-1], u_n_out], "f32")
    y = torch.matmul(u_x, w)
    if u_use_bias:
        y = y + G.param("bias", [u_n_out], "f32")
    return y


def p_layer_norm(u_x, u_eps=1e-5):
    c = u_x.shape[-1]
    weight = G.param("weight", [c], "f32")
    bias = G.param("bias", [c], "f32")
    return F.layer_norm(u_x, (c,), weight, bias, u_eps)


def p_mse(u_pred, u_target):
    return torch.mean((u_pred - u_target) ** 2)


def p_binary_cross_entropy(u_p, u_y, u_eps=1e-12):
    return -torch.mean(u_y * torch.log(torch.clamp(u_p, min=u_eps)) + (1 - u_y) * torch.log(torch.clamp(1 - u_p, min=u_eps)))


def p_cross_entropy(u_logits, u_targets):
    v = u_logits.shape[-1]
    return F.cross_entropy(u_logits.reshape(-1, v), u_targets.reshape(-1).long())
