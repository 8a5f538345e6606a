"""The baby GPT of examples/gpt.grad in PyTorch, as the reference for
bench/train_bench.py. Same shapes, same math: byte vocabulary, token and
position embeddings, pre-LayerNorm blocks with separate q/k/v projections,
causal softmax attention, a 4x tanh-GELU MLP, a final LayerNorm, the head
tied to the token embedding, AdamW (decay on matrices only) with gradient
clipping at 1.0.

  gpt_torch.py --steps N --threads T [--data FILE] [--layers L ...]

Prints the median milliseconds per training step (batches drawn like
gradc's: random windows from the first 90% of the file)."""
import argparse
import math
import os
import random
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
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
        att = att.masked_fill(~mask, -1e9).softmax(-1)
        return self.o((att @ v).transpose(1, 2).reshape(B, T, C))

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, layers, heads, c, t):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(t, c)
        self.blocks = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c)
        self.register_buffer("mask", torch.tril(torch.ones(t, t, dtype=torch.bool)))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe.weight
        for b in self.blocks:
            x = b(x, self.mask)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data", default="")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--embd", type=int, default=128)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=12)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    text = open(a.data, "rb").read() if a.data else bytes(random.Random(0).randrange(32, 127) for _ in range(100000))
    train = torch.tensor(list(text[: int(len(text) * 0.9)]), dtype=torch.long)
    model = GPT(a.vocab, a.layers, a.heads, a.embd, a.context)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    rng = random.Random(0)
    times = []
    for step in range(a.steps):
        starts = [rng.randrange(len(train) - a.context - 1) for _ in range(a.batch)]
        x = torch.stack([train[s:s + a.context] for s in starts])
        y = torch.stack([train[s + 1:s + a.context + 1] for s in starts])
        t0 = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times[5:] if len(times) > 10 else times)
    print(f"torch {torch.__version__} threads={a.threads} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} "
          f"median {med * 1e3:.3f} ms/step, final loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
