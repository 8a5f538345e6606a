//===- runtime/driver/Json.h - the little JSON the runtime reads and writes ===//
//
// Enough JSON for safetensors headers: objects, arrays, strings, numbers.
// Parsing never crashes on bad input; it reports where it stopped.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace grt {

struct Json {
  enum Kind { Null, Number, String, Array, Object, Bool } kind = Null;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  const Json *get(const std::string &key) const;
};

/// Parses `text`; on failure returns false and sets `error`.
bool parseJson(const std::string &text, Json &out, std::string &error);
/// A JSON string literal for `s`.
std::string jsonQuote(const std::string &s);

} // namespace grt
