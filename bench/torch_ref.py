"""PyTorch references for bench/run.py: every example of examples/ (and the
1->64->64->1 MLP of the performance targets) as the same model, with the
same batch, optimizer and hyperparameters, trained on data of the same
shape.

  torch_ref.py --model NAME --steps N --threads T [--data FILE]

Prints one line with the median milliseconds per training step. A step is
what a gradc executable's step is: take a batch, forward, backward,
optimizer update. The GPT draws random windows from the first 90% of FILE
(random bytes without one), like gradc's text data.

Models (see examples/*.grad for the math):
  linreg   x[32,1] -> Linear(1,1), mean squared error, SGD(0.1)
  logreg   x[64,2] -> Linear(2,1) -> sigmoid, binary cross-entropy, SGD(0.5)
  mlp_1d   x[64,1] -> 16 tanh -> 1, MSE, Adam(0.01)
  mlp_nd   x[128,2] -> 32 tanh -> 32 tanh -> 1, MSE, Adam(0.005)
  moons    x[64,2] -> 32 tanh -> 32 tanh -> 1 sigmoid, BCE, Adam(0.01)
  mlp64    x[256,1] -> 64 tanh -> 64 tanh -> 1, MSE, Adam(0.001)  (bench/mlp64.grad)
  gpt      the baby GPT of examples/gpt.grad: byte vocabulary, 4 layers, 4
           heads, 128 wide, context 64, batch 12, pre-LayerNorm blocks with
           separate q/k/v projections, tanh GELU, tied head, AdamW (decay
           0.1 on matrices) with gradient clipping at 1.0; --layers,
           --heads, --embd, --context, --batch and --dropout change it.
"""
import argparse
import math
import os
import random
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads, dropout=0.0):
        super().__init__()
        self.heads = heads
        # Where examples/gpt.grad's -D dropout_rate puts it (nanoGPT's places).
        self.drop_att, self.drop_attn_out, self.drop_mlp_out = (nn.Dropout(dropout) for _ in range(3))
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.q, self.k, self.v, self.o = (nn.Linear(c, c) for _ in range(4))
        self.fc, self.proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def attn(self, x, mask):
        B, T, C = x.shape
        H, D = self.heads, C // self.heads
        q = self.q(x).view(B, T, H, D).transpose(1, 2)
        k = self.k(x).view(B, T, H, D).transpose(1, 2)
        v = self.v(x).view(B, T, H, D).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        att = self.drop_att(att.masked_fill(~mask, -1e9).softmax(-1))
        return self.drop_attn_out(self.o((att @ v).transpose(1, 2).reshape(B, T, C)))

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.drop_mlp_out(self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh")))


class GPT(nn.Module):
    def __init__(self, vocab, layers, heads, c, t, dropout=0.0):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(t, c)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(c, heads, dropout) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        self.register_buffer("mask", torch.tril(torch.ones(t, t, dtype=torch.bool)))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        x = self.drop(self.wte(idx) + self.wpe.weight)
        for b in self.blocks:
            x = b(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))



# name: (rows in the dataset, batch, layer widths, output activation, loss, optimizer, lr)
TABLE_MODELS = {
    "linreg": (256, 32, [1, 1], None, "mse", "sgd", 0.1),
    "logreg": (512, 64, [2, 1], "sigmoid", "bce", "sgd", 0.5),
    "mlp_1d": (1024, 64, [1, 16, 1], None, "mse", "adam", 0.01),
    "mlp_nd": (2048, 128, [2, 32, 32, 1], None, "mse", "adam", 0.005),
    "moons": (1024, 64, [2, 32, 32, 1], "sigmoid", "bce", "adam", 0.01),
    "mlp64": (4096, 256, [1, 64, 64, 1], None, "mse", "adam", 0.001),
}


def table_model(name, steps):
    rows, batch, widths, out_act, loss_kind, opt_kind, lr = TABLE_MODELS[name]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.Tanh())
    if out_act == "sigmoid":
        layers.append(nn.Sigmoid())
    model = nn.Sequential(*layers)
    x_all = torch.rand(rows, widths[0]) * 4 - 2
    y_all = (torch.rand(rows, 1) > 0.5).float() if loss_kind == "bce" else torch.sin(x_all[:, :1])
    opt = (torch.optim.SGD if opt_kind == "sgd" else torch.optim.Adam)(model.parameters(), lr=lr)
    loss_fn = F.binary_cross_entropy if loss_kind == "bce" else F.mse_loss
    order = torch.randperm(rows)
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        at = (step * batch) % (rows - batch + 1)
        idx = order[at:at + batch]
        x, y = x_all[idx], y_all[idx]
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return times, loss.item()


def gpt_model(a):
    if a.data:
        text = open(a.data, "rb").read()
    else:
        gen = random.Random(1)
        text = bytes(gen.randrange(32, 127) for _ in range(100000))
    train = torch.tensor(list(text[: int(len(text) * 0.9)]), dtype=torch.long)
    model = GPT(a.vocab, a.layers, a.heads, a.embd, a.context, a.dropout)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    rng = random.Random(0)
    times = []
    for step in range(a.steps):
        t0 = time.perf_counter()
        starts = [rng.randrange(len(train) - a.context - 1) for _ in range(a.batch)]
        x = torch.stack([train[s:s + a.context] for s in starts])
        y = torch.stack([train[s + 1:s + a.context + 1] for s in starts])
        if a.bf16:
            # Mixed precision as PyTorch does it on a CPU: autocast runs
            # matrix products in bf16 (oneDNN), the weights stay f32.
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(x, y)
        else:
            loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return times, loss.item()


def main():
    p = argparse.ArgumentParser(description="PyTorch reference training steps for bench/run.py")
    p.add_argument("--model", required=True, choices=sorted(TABLE_MODELS) + ["gpt"])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--data", default="", help="gpt: a text file to draw batches from")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--embd", type=int, default=128)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--dropout", type=float, default=0.0, help="gpt: dropout where examples/gpt.grad has it")
    p.add_argument("--bf16", action="store_true", help="gpt: the forward pass under torch.autocast(bfloat16)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    times, loss = gpt_model(a) if a.model == "gpt" else table_model(a.model, a.steps)
    # The first steps warm caches and allocators; the median skips them.
    med = statistics.median(times[len(times) // 10:])
    print(f"torch {torch.__version__} model={a.model} threads={a.threads} "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')} "
          f"{'bf16 autocast ' if a.bf16 else ''}median {med * 1e3:.4f} ms/step, final loss {loss:.6f}")


if __name__ == "__main__":
    main()
