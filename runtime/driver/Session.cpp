//===- runtime/driver/Session.cpp - a model's tensors and entry points ----===//
#include "driver/Session.h"

#include "core/FiniteCheck.h"
#include "core/Profile.h"


#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace grt {

Session::Session(const GrtModel &m, int threads) : model(m), threads(threads) {
  if (m.abi_version != GRT_ABI_VERSION)
    fail("this executable's model was compiled for runtime ABI {}, but the runtime is ABI {}", m.abi_version, GRT_ABI_VERSION);
  // Every gradient @grads writes lies in one buffer, each 64-byte aligned,
  // so a data-parallel run averages them all with one collective; @apply's
  // gradient leaves ("grad.W") read the same memory.
  auto isGradOutput = [&](const GrtTensor &t) {
    return t.role == GRT_OUTPUT && std::string_view(t.name).starts_with(GRT_OUTPUT_PREFIX GRT_GRAD_PREFIX);
  };
  std::vector<size_t> gradOffset(size_t(m.num_tensors), 0);
  size_t gradBytes = 0;
  const GrtTensor *firstGrad = nullptr;
  auto param = [](const GrtTensor &g) { return g.name + std::strlen(GRT_OUTPUT_PREFIX GRT_GRAD_PREFIX); };
  for (int i = 0; i < m.num_tensors; ++i)
    if (isGradOutput(m.tensors[i]) && has(GRT_ENTRY_APPLY)) {
      const GrtTensor &g = m.tensors[i];
      gradOffset[size_t(i)] = gradBytes;
      gradBytes += (size_t(numel(g)) * dtypeBytes(g.dtype) + 63) / 64 * 64;
      if (!firstGrad) firstGrad = &g, gradients.dtype = g.dtype;
      else if (g.dtype != firstGrad->dtype && gradients.mixed.empty())
        gradients.mixed = fmt::format("'{}' is {} but '{}' is {}", param(*firstGrad), dtypeName(firstGrad->dtype), param(g),
                                      dtypeName(g.dtype));
    }
  // All this session will hold, checked before any of it is allocated and
  // zeroed: a batch typed a few digits too long zeroed gigabytes (and
  // minutes) before the buffer that no longer fitted was refused.
  size_t need = gradBytes;
  for (int i = 0; i < m.num_tensors; ++i)
    if (!(gradBytes && isGradOutput(m.tensors[i]))) need += size_t(numel(m.tensors[i])) * dtypeBytes(m.tensors[i].dtype);
  int64_t arenaBytes = 0;
  for (int i = 0; i < m.num_entries; ++i) arenaBytes = std::max(arenaBytes, m.entries[i].arena_bytes);
  checkMemory(need + size_t(arenaBytes), "the model's tensors and scratch arena");
  if (gradBytes) gradients.data = allocateBuffer(gradBytes);
  gradients.bytes = gradBytes;
  gradients.count = int64_t(gradBytes / std::max<size_t>(1, dtypeBytes(gradients.dtype)));
  for (int i = 0; i < m.num_tensors; ++i) {
    const GrtTensor &t = m.tensors[i];
    int64_t n = numel(t);
    size_t bytes = size_t(n) * dtypeBytes(t.dtype);
    void *data = nullptr;
    if (gradBytes && isGradOutput(t)) data = static_cast<char *>(gradients.data) + gradOffset[size_t(i)];
    slots.push_back({&t, data ? data : allocateBuffer(bytes), n, bytes, data != nullptr});
    pointers.push_back(slots.back().data);
  }
  for (auto &sl : slots)
    if (sl.tensor->role == GRT_GRADIENT) {
      int out = find(std::string(GRT_OUTPUT_PREFIX) + sl.tensor->name);
      if (out < 0 || !slots[size_t(out)].borrowed)
        fail("the model's gradient '{}' has no matching output of its grads entry", sl.tensor->name);
      freeBuffer(sl.data, sl.bytes);
      sl.data = pointers[size_t(&sl - slots.data())] = slots[size_t(out)].data;
      sl.borrowed = true;
    }
  arena = static_cast<char *>(allocateBuffer(size_t(arenaBytes)));
  arenaSize = size_t(arenaBytes);
  if (threads > 1) pool = std::make_unique<ThreadPool>(threads);
  ctx.pool = pool.get();
}

Session::~Session() {
  for (auto &s : slots)
    if (!s.borrowed) freeBuffer(s.data, s.bytes);
  freeBuffer(gradients.data, gradients.bytes);
  freeBuffer(arena, arenaSize);
}

int Session::find(std::string_view name) const {
  for (size_t i = 0; i < slots.size(); ++i)
    if (name == slots[i].tensor->name) return int(i);
  return -1;
}

Session::Slot &Session::slot(std::string_view name) {
  int i = find(name);
  if (i < 0) fail("the model has no tensor named '{}'", name);
  return slots[i];
}

const GrtEntry *Session::entry(std::string_view name) const {
  for (int i = 0; i < model.num_entries; ++i)
    if (name == model.entries[i].name) return &model.entries[i];
  return nullptr;
}

bool Session::isStepOnlyInput(const GrtModel &m, const GrtTensor &t) {
  if (t.role != GRT_INPUT) return false;
  bool byStep = false;
  for (int i = 0; i < m.num_entries; ++i) {
    std::vector<std::string> reads = splitList(m.entries[i].inputs);
    if (std::find(reads.begin(), reads.end(), t.name) == reads.end()) continue;
    if (std::strcmp(m.entries[i].name, GRT_ENTRY_STEP) != 0) return false;
    byStep = true;
  }
  return byStep;
}

void Session::run(std::string_view name) {
  const GrtEntry *e = entry(name);
  if (!e) fail("the model has no '{}' entry point", name);
  if (ctx.profile) ctx.profile->begin(int(e - model.entries), ctx.pool);
  if (ctx.finite) ctx.finite->begin(int(e - model.entries), pointers.data(), arena);
  if (!(ctx.profile && ctx.pool)) {
    e->fn(pointers.data(), arena, &ctx);
    return;
  }
  double waited = ctx.pool->callerWaitSeconds();
  int64_t loops = ctx.pool->splitLoops();
  e->fn(pointers.data(), arena, &ctx);
  ctx.profile->threadWait(ctx.pool->callerWaitSeconds() - waited, ctx.pool->splitLoops() - loops);
}

double Session::get(const Slot &s, int64_t i) {
  switch (s.tensor->dtype) {
  case GRT_F32: return static_cast<const float *>(s.data)[i];
  case GRT_F64: return static_cast<const double *>(s.data)[i];
  case GRT_I32: return static_cast<const int32_t *>(s.data)[i];
  default: return static_cast<const uint8_t *>(s.data)[i];
  }
}

void Session::set(Slot &s, int64_t i, double v) {
  switch (s.tensor->dtype) {
  case GRT_F32: static_cast<float *>(s.data)[i] = float(v); break;
  case GRT_F64: static_cast<double *>(s.data)[i] = v; break;
  case GRT_I32: static_cast<int32_t *>(s.data)[i] = int32_t(v); break;
  default: static_cast<uint8_t *>(s.data)[i] = v != 0; break;
  }
}

bool Session::setHyper(std::string_view name, double v) {
  int i = find(name);
  if (i < 0 || slots[i].tensor->role != GRT_HYPER) return false;
  set(slots[i], 0, v);
  return true;
}

bool Session::hyperInF32(int i) const {
  if (i >= 0 && slots[size_t(i)].tensor->dtype == GRT_F32) return true;
  return std::any_of(slots.begin(), slots.end(),
                     [](const Slot &s) { return s.tensor->role == GRT_PARAM && s.tensor->dtype == GRT_F32; });
}

double Session::scalar(std::string_view name) { return get(slot(name), 0); }

void Session::initParams(uint64_t seed) {
  for (auto &s : slots) {
    if (s.tensor->role != GRT_PARAM && s.tensor->role != GRT_STATE) continue;
    Rng rng(seed, hashName(s.tensor->name));
    initTensor(s, rng);
  }
}

//===--- initialisers -----------------------------------------------------===//

void initTensor(Session::Slot &s, Rng &rng) {
  const GrtTensor &t = *s.tensor;
  std::string spec = t.init && *t.init ? t.init : "zeros";
  // Fans for a weight used as x @ W, W of shape [fan_in, fan_out]; for
  // higher ranks the last dim is fan_out and the rest fan_in.
  double fanOut = t.rank ? double(t.dims[t.rank - 1]) : 1;
  double fanIn = t.rank > 1 ? double(s.numel) / fanOut : fanOut;
  auto args = [&](int want) {
    std::vector<double> out;
    size_t open = spec.find('('), close = spec.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open)
      fail("tensor '{}': malformed initialiser '{}'", t.name, spec);
    for (auto &a : splitList(spec.substr(open + 1, close - open - 1))) out.push_back(std::atof(a.c_str()));
    if (int(out.size()) != want) fail("tensor '{}': initialiser '{}' takes {} arguments", t.name, spec, want);
    return out;
  };
  auto uniform = [&](double lo, double hi) {
    for (int64_t i = 0; i < s.numel; ++i) Session::set(s, i, lo + (hi - lo) * rng.uniform());
  };
  auto normal = [&](double stdev) {
    for (int64_t i = 0; i < s.numel; ++i) Session::set(s, i, stdev * rng.normal());
  };
  auto constant = [&](double v) {
    for (int64_t i = 0; i < s.numel; ++i) Session::set(s, i, v);
  };
  if (spec == "zeros") constant(0);
  else if (spec == "ones") constant(1);
  else if (spec == "xavier_uniform") { double a = std::sqrt(6.0 / (fanIn + fanOut)); uniform(-a, a); }
  else if (spec == "xavier_normal") normal(std::sqrt(2.0 / (fanIn + fanOut)));
  else if (spec == "he_uniform") { double a = std::sqrt(6.0 / fanIn); uniform(-a, a); }
  else if (spec == "he_normal") normal(std::sqrt(2.0 / fanIn));
  else if (spec.rfind("normal(", 0) == 0) normal(args(1)[0]);
  else if (spec.rfind("uniform(", 0) == 0) { auto a = args(2); uniform(a[0], a[1]); }
  else if (spec.rfind("constant(", 0) == 0) constant(args(1)[0]);
  else fail("tensor '{}': unknown initialiser '{}'", t.name, spec);
}

} // namespace grt
