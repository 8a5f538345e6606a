//===- frontend/SemaValues.cpp - compile-time values as messages show them ===//
//
// describe() says what a value is in a message ("f32[32,1]", "the integer
// 3"); sourceText() writes a constant as the language would, for dumps and
// messages, within bounds: lists share their items, so 65 lists can hold
// 2^64 numbers, and a message quoting one must not walk them all.
//
//===----------------------------------------------------------------------===//
#include "frontend/SemaImpl.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

namespace gradc {

std::string srcType(const TensorType &t) { return sourceStr(t); }

/// A value as the source would write it: 64, 0.1, true, "a b", zeros,
/// [2, 3], and a tensor as its type (f32[4,1]) where `tensors`, appended
/// to `out`. False for what has no such text (a function; a tensor
/// otherwise), or for a list with more than `maxItems` items at any level,
/// nested past kMaxDepth, or written out past `maxChars`: lists share their
/// items, so `for i in 0..64 { l = [l, l] }` holds 2^64 ones in 65 lists,
/// and writing it out hung gradc (fuzz_grad).
static bool appendSourceText(const Value &v, bool tensors, size_t maxItems, size_t maxChars, int depth, std::string &out) {
  constexpr int kMaxDepth = 64;
  switch (v.kind) {
  case Value::Int: out += std::to_string(v.i); break;
  case Value::Float: out += attrValueStr(v.f); break;
  case Value::Bool: out += v.b ? "true" : "false"; break;
  case Value::Init: out += v.s; break;
  case Value::Str: out += attrValueStr(v.s); break; // quoted and escaped: one line
  case Value::Tensor:
    if (!tensors) return false;
    out += srcType(v.node->type);
    break;
  case Value::List: {
    const auto &items = v.items();
    if (items.size() > maxItems || depth >= kMaxDepth) return false;
    out += "[";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += ", ";
      if (!appendSourceText(items[i], tensors, maxItems, maxChars, depth + 1, out) || out.size() > maxChars) return false;
    }
    out += "]";
    break;
  }
  default: return false;
  }
  return out.size() <= maxChars;
}

/// appendSourceText's text of `v` alone, or "".
std::string sourceText(const Value &v, bool tensors, size_t maxItems, size_t maxChars) {
  std::string out;
  return appendSourceText(v, tensors, maxItems, maxChars, 0, out) ? out : "";
}

std::string describe(const Value &v) {
  switch (v.kind) {
  case Value::Error: return "an invalid value";
  case Value::None: return v.fn ? "none (what '" + v.fn->name + "' gives: it ends without a 'return')" : "none";
  case Value::Int: return "the integer " + std::to_string(v.i);
  case Value::Float: return "the number " + attrValueStr(v.f);
  case Value::Bool: return v.b ? "true" : "false";
  case Value::Str: {
    // Quoted and escaped (a "\n" split the message), and cut past 100
    // bytes, at a character's start: a 1 KB string was quoted whole.
    if (v.s.size() <= 100) return "the string " + attrValueStr(v.s);
    size_t cut = 80;
    while (cut > 0 && (static_cast<unsigned char>(v.s[cut]) & 0xC0) == 0x80) --cut;
    return "the string " + attrValueStr(v.s.substr(0, cut)) + "... (" + std::to_string(v.s.size()) + " bytes in all)";
  }
  case Value::List: {
    // A short one written out, as [f32[4,1], f32[4]].
    std::string text = sourceText(v, /*tensors=*/true, /*maxItems=*/6, /*maxChars=*/200);
    return text.empty() ? "a list of " + std::to_string(v.items().size()) : "the list " + text;
  }
  case Value::Tensor: return srcType(v.node->type);
  case Value::Func: return v.isBuiltin || v.isOp ? "a builtin function" : "the function '" + v.fn->name + "'";
  case Value::Init: return "the initialiser " + v.s;
  }
  return "?";
}

} // namespace gradc
