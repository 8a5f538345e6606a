//===- runtime/driver/Args.cpp - command-line options of model executables ===//
#include "driver/Args.h"

#include "core/Runtime.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace grt {

/// Edits (insert, delete, replace, swap two neighbours) from a to b.
static size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

/// " (did you mean --steps?)" for --stpes, or "".
static std::string nearestOption(const std::string &name, const std::vector<std::string> &known,
                                 const std::vector<std::string> &flags) {
  std::string best;
  size_t bestDist = std::max<size_t>(1, name.size() / 3) + 1;
  for (const auto *list : {&known, &flags})
    for (const std::string &k : *list)
      if (size_t dist = editDistance(name, k); dist < bestDist) best = k, bestDist = dist;
  return best.empty() ? "" : " (did you mean --" + best + "?)";
}

Args::Args(const std::string &cmd, int argc, char **argv, int first, const std::vector<std::string> &known,
           const std::vector<std::string> &flags)
    : command(cmd) {
  auto isKnown = [&](const std::string &n) { return std::find(known.begin(), known.end(), n) != known.end(); };
  auto isFlag = [&](const std::string &n) { return std::find(flags.begin(), flags.end(), n) != flags.end(); };
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3) fail("'{}': unexpected argument '{}'; options start with --", cmd, a);
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    bool inlineValue = eq != std::string::npos;
    if (inlineValue) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (!isKnown(name) && !isFlag(name))
      fail("'{}' has no option --{}{}; run with --help to see its options", cmd, name, nearestOption(name, known, flags));
    if (isFlag(name)) {
      if (inlineValue) fail("--{} takes no value", name);
      values[name].push_back("1");
      continue;
    }
    if (!inlineValue) {
      if (i + 1 >= argc) fail("--{} needs a value", name);
      // `--save --quiet` saved to a file named --quiet, and `--lr --steps
      // 5` said "unexpected argument '5'".
      std::string next = argv[i + 1];
      if (next.rfind("--", 0) == 0) {
        std::string other = next.substr(2, next.find('=') == std::string::npos ? std::string::npos : next.find('=') - 2);
        if (isKnown(other) || isFlag(other))
          fail("--{} needs a value, but the option --{} follows it (a value that starts with -- is written --{}=VALUE)",
               name, other, name);
      }
      value = argv[++i];
    }
    // `--save ""` (an unset shell variable) would otherwise mean no --save.
    if (value.empty() && name != "prompt") fail("--{} needs a value, not an empty string", name);
    // `--data -` reads standard input; a file option given '-' wrote a
    // file named '-' (--save -, --plot -) or read one (--load -).
    static const char *const fileOptions[] = {"save", "load", "resume", "plot", "tokenizer", "output"};
    if (value == "-" && std::find(std::begin(fileOptions), std::end(fileOptions), name) != std::end(fileOptions))
      fail("{}", dashRefused("--" + name));
    values[name].push_back(value);
  }
}

/// The one value of an option read as a single value: given twice with two
/// values (--lr 0.1 --lr 0.2), which one was meant is not clear, and the
/// last one won silently. Repeatable options are read with all().
static const std::string &single(const std::string &name, const std::vector<std::string> &given) {
  for (const std::string &v : given)
    if (v != given.front()) fail("--{} is given twice, as '{}' and '{}': give it once", name, given.front(), v);
  return given.back();
}

std::string Args::str(const std::string &name, const std::string &dflt) const {
  auto it = values.find(name);
  return it == values.end() ? dflt : single(name, it->second);
}

/// Whether `t` from `i` on is one or more decimal digits; moves `i` past them.
static bool digits(const std::string &t, size_t &i) {
  size_t from = i;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  return i > from;
}

NumberText parseInteger(const std::string &text, int64_t &out) {
  size_t i = text.size() && (text[0] == '+' || text[0] == '-') ? 1 : 0;
  if (!digits(text, i) || i != text.size()) return NumberText::Malformed;
  errno = 0;
  long long x = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return NumberText::OutOfRange;
  out = x;
  return NumberText::Ok;
}

bool parseCount(std::string_view text, int64_t &out) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string dashRefused(const std::string &option) {
  return option + " -: only --data reads standard input ('-'); for a file named '-', write ./-";
}

const char *const kRealRange =
    "a number's magnitude must be below 1.8e308, and one that is not 0 must not be so small that it reads as 0";

NumberText parseReal(const std::string &text, double &out) {
  size_t i = text.size() && (text[0] == '+' || text[0] == '-') ? 1 : 0;
  bool whole = digits(text, i), fraction = false;
  if (i < text.size() && text[i] == '.') fraction = digits(text, ++i);
  if (!whole && !fraction) return NumberText::Malformed;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    if (++i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits(text, i)) return NumberText::Malformed;
  }
  if (i != text.size()) return NumberText::Malformed;
  double x = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(x)) return NumberText::OutOfRange;
  // 1e-400 rounds to 0: --lr 1e-400 trained with a rate of 0, where
  // --lr 1e-320 is refused as below f32's smallest normal number.
  size_t mantissa = text.find_first_of("eE");
  if (x == 0 && text.substr(0, mantissa).find_first_of("123456789") != std::string::npos) return NumberText::OutOfRange;
  out = x;
  return NumberText::Ok;
}

int64_t Args::integer(const std::string &name, int64_t dflt, int64_t min, int64_t max) const {
  auto it = values.find(name);
  if (it == values.end()) return dflt;
  const std::string &v = single(name, it->second);
  int64_t x = 0;
  switch (parseInteger(v, x)) {
  case NumberText::Malformed: fail("--{} takes an integer, not '{}'", name, v);
  case NumberText::OutOfRange:
    if (v[0] == '-') fail("--{} {} is out of range: it must be at least {}", name, v, min);
    fail("--{} {} is out of range: it must be at most {}", name, v, max);
  case NumberText::Ok: break;
  }
  if (x < min) fail("--{} must be at least {}, not {}", name, min, x);
  if (x > max) fail("--{} must be at most {}, not {}", name, max, x);
  return x;
}

double Args::number(const std::string &name, double dflt) const {
  auto it = values.find(name);
  if (it == values.end()) return dflt;
  const std::string &v = single(name, it->second);
  double x = 0;
  switch (parseReal(v, x)) {
  case NumberText::Malformed: fail("--{} takes a number, not '{}'", name, v);
  case NumberText::OutOfRange: fail("--{} {} is out of range: {}", name, v, kRealRange);
  case NumberText::Ok: break;
  }
  return x;
}

const std::vector<std::string> &Args::all(const std::string &name) const {
  static const std::vector<std::string> none;
  auto it = values.find(name);
  return it == values.end() ? none : it->second;
}

} // namespace grt
