//===- runtime/driver/Args.h - command-line options of model executables --===//
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace grt {

/// How every numeric flag reads its text: decimal only, written the same
/// way for all (an optional sign, digits, for a real number an optional
/// fraction and exponent); no spaces, hex, inf or nan. (strtod and strtoll
/// took a leading space but not a trailing one, and hex floats but not hex
/// integers.)
enum class NumberText { Ok, Malformed, OutOfRange };
NumberText parseInteger(const std::string &text, int64_t &out);
/// Out of range: beyond the largest double (about 1.8e308), or not 0 but
/// so small it rounds to 0 (1e-400); a smaller one reads as a denormal.
NumberText parseReal(const std::string &text, double &out);
/// The message for '-' given to a file option other than --data (OPTION as
/// typed: "--save", "-o").
std::string dashRefused(const std::string &option);
/// What an OutOfRange real is out of, for messages.
extern const char *const kRealRange;
/// A count written in a file the runtime saved (a checkpoint's step, its
/// processes, a data position): decimal digits only, no sign, that fit in
/// 64 bits. ("-50", "+5", "1e3", "12x" and "" are not.)
bool parseCount(std::string_view text, int64_t &out);

/// `--name value`, `--name=value` and bare `--flag`. Every option a command
/// does not know is an error naming it.
class Args {
public:
  /// `flags` are the options that take no value.
  Args(const std::string &command, int argc, char **argv, int first, const std::vector<std::string> &known,
       const std::vector<std::string> &flags);

  bool has(const std::string &name) const { return values.count(name) > 0; }
  std::string str(const std::string &name, const std::string &dflt = "") const;
  int64_t integer(const std::string &name, int64_t dflt, int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  double number(const std::string &name, double dflt) const;
  /// Every value of a repeatable option (--hp a=1 --hp b=2).
  const std::vector<std::string> &all(const std::string &name) const;

private:
  std::string command;
  std::map<std::string, std::vector<std::string>> values;
};

} // namespace grt
