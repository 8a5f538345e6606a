//===- tests/modelgen/Reducer.cpp - shrink a failing model ----------------===//
#include "Reducer.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Regex.h"

#include <fmt/format.h>

#include <set>
#include <vector>

namespace gradc::modelgen {
namespace {

using Lines = std::vector<std::string>;

Lines split(const std::string &s) {
  Lines out;
  llvm::StringRef rest = s;
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    out.push_back(line.str());
    rest = tail;
  }
  return out;
}

std::string join(const Lines &lines) {
  std::string s;
  for (auto &l : lines) s += l + "\n";
  return s;
}

llvm::StringRef trimmed(const std::string &l) { return llvm::StringRef(l).trim(); }

/// Lines the reducer must keep: structure and annotations.
bool pinned(const std::string &l) {
  llvm::StringRef t = trimmed(l);
  return t.empty() || t == "}" || t.starts_with("model ") || t.starts_with("fn ") || t.starts_with("# modelgen:") ||
         t.starts_with("return ");
}

/// The last line of the statement starting at `i`: its block's closing
/// brace when it opens one.
size_t statementEnd(const Lines &lines, size_t i) {
  int depth = 0;
  for (size_t j = i; j < lines.size(); ++j) {
    for (char c : lines[j]) depth += c == '{' ? 1 : c == '}' ? -1 : 0;
    if (depth <= 0) return j;
  }
  return i;
}

/// Names an expression reads (identifiers not followed by '(').
std::vector<std::string> namesIn(llvm::StringRef expr) {
  std::vector<std::string> out;
  for (size_t i = 0; i < expr.size();) {
    if (std::isalpha((unsigned char)expr[i]) || expr[i] == '_') {
      size_t j = i;
      while (j < expr.size() && (std::isalnum((unsigned char)expr[j]) || expr[j] == '_')) ++j;
      llvm::StringRef word = expr.slice(i, j);
      size_t k = j;
      while (k < expr.size() && expr[k] == ' ') ++k;
      bool call = k < expr.size() && (expr[k] == '(' || expr[k] == '.');
      bool afterDot = i > 0 && expr[i - 1] == '.';
      if (!call && !afterDot && !llvm::is_contained(out, word.str())) out.push_back(word.str());
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

/// Top-level terms of a sum: "a + b * c - d" -> "a", "b * c", "d".
std::vector<std::string> sumTerms(llvm::StringRef expr) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < expr.size(); ++i) {
    char c = expr[i];
    depth += (c == '(' || c == '[') ? 1 : (c == ')' || c == ']') ? -1 : 0;
    if (depth == 0 && (c == '+' || c == '-') && i > 0 && expr[i - 1] == ' ' && i + 1 < expr.size() && expr[i + 1] == ' ') {
      out.push_back(expr.slice(start, i).trim().str());
      start = i + 1;
    }
  }
  if (!out.empty()) out.push_back(expr.substr(start).trim().str());
  return out;
}

class Reduction {
public:
  Reduction(const std::string &source, const std::function<bool(const std::string &)> &stillFails,
            const std::function<void(const std::string &)> &log)
      : lines(split(source)), stillFails(stillFails), log(log) {}

  std::string run() {
    // Comments say nothing to the compiler; `# modelgen:` ones do.
    std::erase_if(lines, [](const std::string &l) {
      llvm::StringRef t = trimmed(l);
      return t.starts_with("#") && !t.starts_with("# modelgen:");
    });
    for (bool changed = true; changed;) {
      changed = false;
      changed |= deleteStatements();
      changed |= simplifyAssignments();
      changed |= shrinkConstants();
      changed |= simplifyTrain();
    }
    return join(lines);
  }

private:
  bool accept(Lines candidate, const std::string &what) {
    std::string text = join(candidate);
    if (!tried.insert(text).second || !stillFails(text)) return false;
    lines = std::move(candidate);
    log(what);
    return true;
  }

  bool deleteStatements() {
    bool any = false;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (pinned(lines[i]) || trimmed(lines[i]).starts_with("#")) continue;
      size_t end = statementEnd(lines, i);
      Lines c = lines;
      c.erase(c.begin() + i, c.begin() + end + 1);
      std::string what = fmt::format("deleted '{}'", trimmed(lines[i]).str());
      if (accept(std::move(c), what)) {
        any = true;
        --i;
      }
    }
    return any;
  }

  bool simplifyAssignments() {
    bool any = false;
    llvm::Regex assign("^([ ]*)([A-Za-z_][A-Za-z_0-9]*) = (.*)$");
    for (size_t i = 0; i < lines.size(); ++i) {
      llvm::SmallVector<llvm::StringRef, 4> m;
      if (!assign.match(lines[i], &m)) continue;
      std::string indent = m[1].str(), target = m[2].str(), rhs = m[3].str();
      std::vector<std::string> candidates = sumTerms(rhs);
      for (auto &n : namesIn(rhs))
        if (n != target) candidates.push_back(n);
      for (auto &cand : candidates) {
        if (cand == rhs) continue;
        Lines c = lines;
        c[i] = indent + target + " = " + cand;
        if (accept(std::move(c), fmt::format("{} = {}  (was {})", target, cand, rhs))) {
          any = true;
          break;
        }
      }
    }
    return any;
  }

  bool shrinkConstants() {
    bool any = false;
    llvm::Regex constant("^([ ]*const [A-Za-z_][A-Za-z_0-9]* = )([0-9]+)(.*)$");
    for (size_t i = 0; i < lines.size(); ++i) {
      llvm::SmallVector<llvm::StringRef, 4> m;
      if (!constant.match(lines[i], &m)) continue;
      int64_t v = 0;
      if (m[2].getAsInteger(10, v) || v <= 1) continue;
      for (int64_t smaller : {int64_t(1), int64_t(2), v / 2, v - 1}) {
        if (smaller < 1 || smaller >= v) continue;
        Lines c = lines;
        c[i] = m[1].str() + std::to_string(smaller) + m[3].str();
        if (accept(std::move(c), fmt::format("{} (was {})", trimmed(c[i]).str(), v))) {
          any = true;
          break;
        }
      }
    }
    return any;
  }

  bool simplifyTrain() {
    for (size_t i = 0; i < lines.size(); ++i) {
      llvm::StringRef t = trimmed(lines[i]);
      if (!t.starts_with("train ") || t == "train sgd(lr = 0.1)") continue;
      Lines c = lines;
      c[i] = lines[i].substr(0, lines[i].find('t')) + "train sgd(lr = 0.1)";
      return accept(std::move(c), "plain SGD");
    }
    return false;
  }

  Lines lines;
  const std::function<bool(const std::string &)> &stillFails;
  const std::function<void(const std::string &)> &log;
  std::set<std::string> tried;
};

} // namespace

std::string reduceModel(const std::string &source, const std::function<bool(const std::string &)> &stillFails,
                        const std::function<void(const std::string &)> &log) {
  return Reduction(source, stillFails, log).run();
}

} // namespace gradc::modelgen
