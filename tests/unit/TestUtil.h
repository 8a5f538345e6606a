//===- tests/unit/TestUtil.h - helpers shared by the unit tests -----------===//
#pragma once

#include "frontend/Frontend.h"

#include <gtest/gtest.h>

namespace gradc::test {

/// Runs the frontend on `source`; diagnostics are captured in `errors`.
struct Analyzed {
  std::string errors;
  std::unique_ptr<Module> module;
};
inline Analyzed analyze(llvm::StringRef source, SemaOptions opts = {}) {
  Analyzed a;
  llvm::raw_string_ostream os(a.errors);
  Frontend fe(os);
  fe.loadString(source, "test.grad");
  a.module = fe.analyze(opts);
  return a;
}

/// A minimal valid model around `body` lines (inputs x: f32[4,3], y: f32[4,1]).
inline std::string model(llvm::StringRef body) {
  return ("model m {\n  input x: f32[4, 3]\n  input y: f32[4, 1]\n" + body + "\n  train sgd(lr = 0.1)\n}\n").str();
}

} // namespace gradc::test
