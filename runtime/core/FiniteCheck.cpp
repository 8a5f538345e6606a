//===- runtime/core/FiniteCheck.cpp - the first non-finite value ----------===//
#include "core/FiniteCheck.h"

#include <cmath>

namespace grt {

void FiniteCheck::begin(int entry, void *const *s, const char *a) {
  current = entry;
  next = 0;
  slots = s;
  arena = a;
}

void FiniteCheck::kernelEnd(int kernel) {
  if (current < 0 || found) return;
  const GrtEntry &e = model.entries[current];
  // Stored values are listed in kernel order; a kernel's come after those
  // of the kernels before it.
  for (; next < e.num_stored && e.stored[next].kernel <= kernel; ++next) {
    const GrtStored &st = e.stored[next];
    if (st.kernel != kernel || (st.dtype != GRT_F32 && st.dtype != GRT_F64)) continue;
    const char *base = st.tensor >= 0 ? static_cast<const char *>(slots[st.tensor]) : arena + st.offset;
    for (int64_t i = 0; i < st.count; ++i) {
      double v = st.dtype == GRT_F32 ? double(reinterpret_cast<const float *>(base)[i])
                                     : reinterpret_cast<const double *>(base)[i];
      if (!std::isfinite(v)) {
        found = Finding{e.name, st.what, kernel, i, st.count, v};
        return;
      }
    }
  }
}

std::string FiniteCheck::describe(const Finding &f) {
  return fmt::format("{} (kernel {} of '{}'): element {} of {} is {}", f.what, f.kernel, f.entry, f.element, f.count,
                     f.value);
}

} // namespace grt
