//===- ir/Parser.cpp - reads the text form of the IR back -----------------===//
//
// Grammar (see ir/Printer.h for an example):
//
//   module   := 'module' NAME header* graph*
//   header   := 'after' STRING
//             | 'source' STRING ':' INT STRING
//             | 'train' NAME '{' (NAME '=' value),* '}'
//             | 'data' ('table' | 'text') '{' (NAME '=' value),* '}'
//   graph    := 'graph' '@'NAME ('arena' '(' INT ')')? '{' kernel* slices* item* '}'
//   kernel   := 'kernel' INT '=' KIND '[' (INT (',' INT)*)? ']' 'stores' values ('epilogue' values)?
//   slices   := 'slices' INT 'to' INT 'over' '[' INT (',' INT)* ']' ('rows' '(' INT ')')? ('scratch' '(' INT ')')?
//   values   := '%'NAME (',' '%'NAME)*
//   item     := '%'NAME '=' OP operands? attrs? ':' TYPE loc? prov? kernel? storage?
//             | 'output' STRING '=' '%'NAME
//             | 'update' '%'NAME '=' '%'NAME
//   TYPE     := DTYPE '[' (INT (',' INT)*)? ']'
//
// Lines starting with // are comments. A kernel line names values defined
// below it; they are looked up when the graph is closed, and the kernel
// list is then checked (ir/Kernel.h) with errors at the kernel's line.
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"

#include "ir/Entries.h"
#include "ir/Optimizers.h"
#include "ir/Plan.h"
#include "ir/SourceDiag.h"
#include "ir/Verifier.h"
#include "runtime/include/gradrt/abi.h"
#include "runtime/include/gradrt/hypers.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace gradc {
namespace {

/// Arena sizes beyond this are refused; offsets and sizes within it can be
/// added without overflow.
constexpr int64_t kMaxArenaBytes = int64_t(1) << 62;
// A slice group's scratch lives on the stack of each thread that runs it.
constexpr int64_t kMaxScratchBytes = int64_t(1) << 24;

struct IrToken {
  enum Kind { Eof, Ident, Percent, At, String, Number, Punct, Error } kind;
  llvm::StringRef text; // for Percent/At: the name without the sigil; String: raw with quotes
  llvm::SMLoc loc;
};

class IrParser {
public:
  IrParser(llvm::SourceMgr &sm, unsigned buf, llvm::raw_ostream &errs, llvm::ArrayRef<llvm::StringRef> stages)
      : sm(sm), errs(errs), stages(stages), text(sm.getMemoryBuffer(buf)->getBuffer()), cur(text.begin()) {
    // A UTF-8 byte-order mark, as editors on Windows write, is not text.
    if (text.starts_with("\xEF\xBB\xBF")) cur += 3;
    next();
  }

  std::unique_ptr<Module> run() {
    auto m = std::make_unique<Module>();
    moduleLoc = tok.loc;
    if (!isKeyword("module") && looksLikeSource())
      return fail("expected 'module': this reads as .grad source (it declares a model, fn or const), not text IR; "
                  "gradc tells the two apart by the file's extension, so name it .grad");
    if (!keyword("module")) return nullptr;
    if (tok.kind != IrToken::Ident) return fail("expected the module name");
    m->name = tok.text.str();
    next();
    while (tok.kind == IrToken::Ident && tok.text != "graph") {
      if (!header(*m)) return nullptr;
    }
    while (tok.kind != IrToken::Eof) {
      if (!graph(*m)) return nullptr;
    }
    auto problems = verifyProblems(*m);
    // What the runtime trusts of each entry, once the graphs are sound.
    if (problems.empty()) problems = entryProblems(*m);
    if (!problems.empty()) {
      for (auto &p : problems) printMessage(sm, errs, where(p), llvm::SourceMgr::DK_Error, p.message);
      return nullptr;
    }
    if (auto [p, at] = stageProblem(*m); !p.empty()) {
      // At the line it concerns (an output's, a graph's), else at the
      // `after` line when there is one, else at the module line.
      errorAt(at.isValid() ? at : afterLoc.isValid() ? afterLoc : moduleLoc, p);
      return nullptr;
    }
    return m;
  }

private:
  /// The line a verifier problem concerns: its node's, output's or
  /// update's, else its graph's, else the module's.
  llvm::SMLoc where(const Problem &p) const {
    if (auto it = nodeLocs.find(p.node); p.node && it != nodeLocs.end()) return it->second;
    if (auto it = graphLocs.find(p.graph); p.graph && it != graphLocs.end()) {
      const GraphLocs &l = it->second;
      if (p.output >= 0 && size_t(p.output) < l.outputs.size()) return l.outputs[size_t(p.output)];
      if (p.update >= 0 && size_t(p.update) < l.updates.size()) return l.updates[size_t(p.update)];
      if (p.kernel >= 0 && size_t(p.kernel) < l.kernels.size()) return l.kernels[size_t(p.kernel)];
      return l.graph;
    }
    return moduleLoc;
  }

  /// The line of graph g, and of its output `name` (the graph's when it
  /// has none by that name).
  llvm::SMLoc graphLoc(const Graph &g) const {
    auto it = graphLocs.find(&g);
    return it == graphLocs.end() ? llvm::SMLoc() : it->second.graph;
  }
  llvm::SMLoc outputLoc(const Graph &g, llvm::StringRef name) const {
    auto it = graphLocs.find(&g);
    if (it == graphLocs.end()) return {};
    for (size_t i = 0; i < g.outputs.size() && i < it->second.outputs.size(); ++i)
      if (g.outputs[i].name == name) return it->second.outputs[i];
    return it->second.graph;
  }

  /// A stage problem and the line it concerns (invalid: the `after` line).
  struct Located {
    std::string message;
    llvm::SMLoc at;
    Located(std::string m = "", llvm::SMLoc a = {}) : message(std::move(m)), at(a) {}
    Located(const char *m) : message(m) {}
  };

  /// Why the module is not what its `after` line says it is, or "". The
  /// passes after a stage trust what it promises (kernels after fusion, a
  /// gradient after autodiff, a @train graph after split-entries); a
  /// hand-edited stage that promises more, or less, than the graphs hold
  /// stopped gradc with internal errors, or built a model that never
  /// trained. Each stage's mark is checked both ways.
  Located stageProblem(const Module &m) const {
    if (m.graphs.empty()) return "the module has no graphs";
    bool trains = !m.train.optimizer.empty();
    for (auto &g : m.graphs) {
      if ((g->name == "train" || g->name == "eval") && !g->output("loss"))
        return {"graph @" + g->name + " has no output \"loss\": training and validation report it", graphLoc(*g)};
      // (Autodiff said so later, with no line to point at.)
      if (g->name == "model" && trains && !g->output("loss"))
        return {"graph @model has no output \"loss\": the module's train line trains it by its loss", graphLoc(*g)};
      if (const Node *loss = g->output("loss"); trains && loss && (!loss->type.isScalar() || !isFloat(loss->type.dtype)))
        return {"graph @" + g->name + "'s output \"loss\" is " + str(loss->type) + ": a loss is a float scalar",
                outputLoc(*g, "loss")};
    }
    auto index = [&](llvm::StringRef step) {
      auto it = llvm::find(stages, step);
      return it == stages.end() ? -1 : int(it - stages.begin());
    };
    int at = index(m.after);
    if (at < 0 || m.after.empty()) return "";
    std::string claim = "the module says it is after \"" + m.after + "\", but ";
    auto passed = [&](llvm::StringRef step) { return index(step) >= 0 && at >= index(step); };
    auto before = [&](llvm::StringRef step) { return index(step) >= 0 && at < index(step); };
    for (auto &g : m.graphs) {
      bool compute = llvm::any_of(g->nodes, [](auto &n) { return !n->has(Leaf); });
      if (passed("fuse") && compute && g->numKernels() == 0)
        return claim + "graph @" + g->name + " has no kernels: give the stage it was printed after";
      if (before("fuse") && g->numKernels() > 0)
        return claim + "graph @" + g->name + " is already fused into kernels (it is past \"fuse\")";
      if (passed("plan-memory") && g->numKernels() > 0 && !isPlanned(*g))
        return claim + "graph @" + g->name + "'s values have no places in memory (it is before \"plan-memory\")";
      if (before("plan-memory") && isPlanned(*g))
        return claim + "graph @" + g->name + "'s values are already placed in memory (it is past \"plan-memory\")";
      for (auto &o : g->outputs)
        if (before("autodiff") && llvm::StringRef(o.name).starts_with("grad."))
          return claim + "graph @" + g->name + " already outputs a gradient, \"" + o.name + "\" (it is past \"autodiff\")";
    }
    // The optimizer reads @model's gradient of every param it holds; one
    // deleted stopped gradc with an unlocated "run autodiff first".
    if (const Graph *g = m.graph("model"); g && trains && passed("autodiff") && before("optimizer"))
      for (const Node *p : g->leaves(OpKind::Param))
        if (llvm::StringRef name = p->attrs.getString(AttrKey::Name); !g->output(grt::gradName(name)))
          return {claim + "graph @model has no output \"" + grt::gradName(name) + "\", the gradient of param \"" +
                      name.str() + "\" that the optimizer reads (it is before \"autodiff\")",
                  nodeLocs.lookup(p)};
    bool updates = llvm::any_of(m.graphs, [](auto &g) { return !g->updates.empty(); });
    if (before("optimizer") && updates) return claim + "it already updates parameters (it is past \"optimizer\")";
    if (passed("optimizer") && trains && !updates)
      return claim + "no graph updates a parameter: the optimizer has not run (give the stage it was printed after)";
    if (passed("split-entries") && trains && !m.graph("train") && !m.graph("grads"))
      return claim + "it has no @train graph (it is before \"split-entries\")";
    if (before("split-entries") && (m.graph("train") || m.graph("eval")))
      return claim + "it already has entry graphs such as @train (it is past \"split-entries\")";
    return "";
  }

  //===--- tokens -----------------------------------------------------------===//

  void next() {
    // Skip white space and // comments.
    while (cur < text.end()) {
      if (*cur == ' ' || *cur == '\t' || *cur == '\r' || *cur == '\n') ++cur;
      else if (*cur == '/' && cur + 1 < text.end() && cur[1] == '/')
        while (cur < text.end() && *cur != '\n') ++cur;
      else break;
    }
    const char *start = cur;
    auto make = [&](IrToken::Kind k, const char *b, const char *e) {
      tok = {k, llvm::StringRef(b, e - b), llvm::SMLoc::getFromPointer(start)};
    };
    if (cur >= text.end()) return make(IrToken::Eof, cur, cur);
    auto isName = [](char c) { return std::isalnum((unsigned char)c) || c == '_' || c == '.'; };
    char c = *cur;
    if (c == '%' || c == '@') {
      ++cur;
      const char *b = cur;
      while (cur < text.end() && isName(*cur)) ++cur;
      return make(c == '%' ? IrToken::Percent : IrToken::At, b, cur);
    }
    if (c == '"') {
      ++cur;
      while (cur < text.end() && *cur != '"' && *cur != '\n') {
        if (*cur == '\\' && cur + 1 < text.end()) ++cur;
        ++cur;
      }
      if (cur >= text.end() || *cur != '"') return make(IrToken::Error, start, cur);
      ++cur;
      return make(IrToken::String, start, cur);
    }
    if (std::isdigit((unsigned char)c) || ((c == '-' || c == '+') && cur + 1 < text.end() &&
                                           (std::isdigit((unsigned char)cur[1]) || cur[1] == 'i'))) {
      ++cur;
      while (cur < text.end() && (std::isalnum((unsigned char)*cur) || *cur == '.' || *cur == '+' || *cur == '-' ||
                                  *cur == '_'))
        ++cur;
      return make(IrToken::Number, start, cur);
    }
    if (std::isalpha((unsigned char)c) || c == '_') {
      while (cur < text.end() && (std::isalnum((unsigned char)*cur) || *cur == '_')) ++cur;
      return make(IrToken::Ident, start, cur);
    }
    ++cur;
    return make(IrToken::Punct, start, cur);
  }

  std::nullptr_t fail(const llvm::Twine &msg) {
    if (!failed) printMessage(sm, errs, tok.loc, llvm::SourceMgr::DK_Error, msg);
    failed = true;
    return nullptr;
  }
  bool error(const llvm::Twine &msg) {
    fail(msg);
    return false;
  }
  bool errorAt(llvm::SMLoc loc, const llvm::Twine &msg) {
    if (!failed) printMessage(sm, errs, loc, llvm::SourceMgr::DK_Error, msg);
    failed = true;
    return false;
  }
  bool punct(char c) {
    if (tok.kind == IrToken::Punct && tok.text[0] == c) {
      next();
      return true;
    }
    return false;
  }
  bool expect(char c) { return punct(c) || error(llvm::Twine("expected '") + llvm::Twine(c) + "'"); }
  bool keyword(llvm::StringRef k) {
    if (tok.kind == IrToken::Ident && tok.text == k) {
      next();
      return true;
    }
    return error("expected '" + k + "'");
  }
  /// Whether the first line that is not blank or a # comment begins a
  /// .grad declaration: a model source saved as .gir (text IR has no #
  /// comments, so the error was "expected 'module'" at the first one).
  bool looksLikeSource() const {
    llvm::StringRef rest = text;
    while (!rest.empty()) {
      auto [line, after] = rest.split('\n');
      rest = after;
      line = line.trim();
      if (line.empty() || line.starts_with("#")) continue;
      return line.starts_with("model ") || line.starts_with("fn ") || line.starts_with("const ");
    }
    return false;
  }
  bool isKeyword(llvm::StringRef k) const { return tok.kind == IrToken::Ident && tok.text == k; }

  bool string(std::string &out) {
    if (tok.kind != IrToken::String) return error("expected a string in quotes");
    llvm::StringRef s = tok.text.drop_front().drop_back();
    out.clear();
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) {
        ++i;
        out += s[i] == 'n' ? '\n' : s[i];
        continue;
      }
      out += s[i];
    }
    next();
    return true;
  }
  /// Where the last integer or number read began: a check of its value
  /// points there, not at the token after it.
  llvm::SMLoc lastNumber;

  bool integer(int64_t &out) {
    lastNumber = tok.loc;
    if (tok.kind != IrToken::Number || tok.text.getAsInteger(10, out)) return error("expected an integer");
    next();
    return true;
  }
  bool number(double &out) {
    lastNumber = tok.loc;
    if (tok.kind == IrToken::Ident && (tok.text == "inf" || tok.text == "nan")) {
      out = tok.text == "inf" ? INFINITY : NAN;
      next();
      return true;
    }
    if (tok.kind != IrToken::Number) return error("expected a number");
    if (tok.text == "-inf" || tok.text == "+inf") out = tok.text[0] == '-' ? -INFINITY : INFINITY;
    else if (tok.text.getAsDouble(out)) return error("expected a number");
    next();
    return true;
  }

  //===--- values and attributes --------------------------------------------===//

  bool value(AttrKind kind, AttrValue &out) {
    switch (kind) {
    case AttrKind::Int: {
      int64_t v;
      if (!integer(v)) return false;
      out = v;
      return true;
    }
    case AttrKind::Float: {
      double v;
      if (!number(v)) return false;
      out = v;
      return true;
    }
    case AttrKind::Bool:
      if (isKeyword("true") || isKeyword("false")) {
        out = tok.text == "true";
        next();
        return true;
      }
      return error("expected true or false");
    case AttrKind::String: {
      std::string s;
      if (!string(s)) return false;
      out = s;
      return true;
    }
    case AttrKind::Ints: {
      std::vector<int64_t> v;
      if (!expect('[')) return false;
      while (!punct(']')) {
        int64_t x;
        if (!integer(x)) return false;
        v.push_back(x);
        if (!punct(',') && !(tok.kind == IrToken::Punct && tok.text == "]")) return error("expected ',' or ']'");
      }
      out = v;
      return true;
    }
    }
    return false;
  }

  /// A train or data header argument: a number or a string.
  bool looseValue(AttrValue &out) {
    if (tok.kind == IrToken::String) return value(AttrKind::String, out);
    return value(AttrKind::Float, out);
  }

  bool type(TensorType &out) {
    if (tok.kind != IrToken::Ident) return error("expected a type such as f32[2,3]");
    llvm::SMLoc start = tok.loc;
    auto dt = parseDType(tok.text);
    if (!dt) return error("unknown dtype '" + tok.text + "'");
    out.dtype = *dt;
    out.shape.clear();
    next();
    if (!expect('[')) return false;
    while (!punct(']')) {
      int64_t d;
      if (!integer(d)) return false;
      if (d < 1) return errorAt(lastNumber, "dimensions must be positive");
      out.shape.push_back(d);
      if (!punct(',') && !(tok.kind == IrToken::Punct && tok.text == "]")) return error("expected ',' or ']'");
    }
    // Every value of a parsed graph has its type written out, so this check
    // keeps any shape whose size would overflow out of the compiler.
    if (std::string problem = sizeProblem(out.shape); !problem.empty())
      return errorAt(start, "type " + str(out) + " is too large: " + problem);
    return true;
  }

  //===--- module header ----------------------------------------------------===//

  bool header(Module &m) {
    if (isKeyword("after")) {
      // The stage: the pipeline step the module was printed after.
      if (!m.after.empty()) return error("the module's stage is given twice");
      next();
      llvm::SMLoc at = tok.loc;
      std::string step;
      if (!string(step)) return false;
      if (step.empty()) return errorAt(at, "expected the name of a pipeline step, e.g. \"dce\"");
      if (!stages.empty() && !llvm::is_contained(stages, step)) {
        std::string known;
        for (llvm::StringRef s : stages) known += (known.empty() ? "" : ", ") + s.str();
        return errorAt(at, "unknown stage '" + step + "': a module can be after " + known);
      }
      m.after = step;
      afterLoc = at;
      return true;
    }
    if (isKeyword("source")) {
      next();
      std::string file, line;
      int64_t lineNo;
      if (!string(file) || !expect(':') || !integer(lineNo)) return false;
      // As a loc's: -3 was printed back as 4294967293, 2^32 + 1 kept as 1.
      if (lineNo < 1 || lineNo > UINT32_MAX)
        return errorAt(lastNumber, "a source line counts from 1, but this one is " + llvm::Twine(lineNo));
      if (!string(line)) return false;
      m.sourceLines[{m.fileId(file), uint32_t(lineNo)}] = line;
      return true;
    }
    if (isKeyword("train")) {
      if (!m.train.optimizer.empty()) return error("the module's train statement is given twice");
      next();
      if (tok.kind != IrToken::Ident) return error("expected an optimizer name");
      // The same rules as a .grad train statement (frontend/Sema.cpp): a
      // known optimizer, its arguments once each, in range; the ones left
      // out take their defaults (not 0, which trained with lr = 0).
      const OptimizerInfo *opt = findOptimizer(tok.text);
      if (!opt) return error("unknown optimizer '" + tok.text + "'; available: " + optimizerNames());
      m.train.optimizer = opt->name.str();
      next();
      llvm::StringMap<AttrValue> given;
      bool ok = arguments([&](const std::string &k, AttrValue v, llvm::SMLoc at, llvm::SMLoc valueAt) {
        const OptimizerArg *arg = findArg(*opt, k);
        if (!arg) return errorAt(at, "'" + opt->name + "' has no argument '" + k + "'; it takes " + argumentNames(*opt));
        if (given.count(k)) return errorAt(at, "'" + k + "' is given twice");
        bool isString = std::holds_alternative<std::string>(v);
        if (!arg->strDefault.empty()) {
          if (!isString || !llvm::is_contained(arg->choices, std::get<std::string>(v)))
            return errorAt(valueAt, "'" + k + "' must be one of " + choiceNames(*arg));
        } else if (isString) {
          return errorAt(valueAt, "'" + k + "' must be a number");
        } else if (const char *why = grt::hyperRangeError(k.c_str(), std::get<double>(v), false)) {
          char shown[32];
          std::snprintf(shown, sizeof shown, "%g", std::get<double>(v));
          return errorAt(valueAt, "'" + k + "' " + why + ", not " + shown);
        }
        given[k] = std::move(v);
        return true;
      });
      if (!ok) return false;
      for (auto &arg : opt->args) {
        auto it = given.find(arg.name);
        if (it != given.end()) m.train.args.push_back({arg.name.str(), it->second});
        else if (!arg.strDefault.empty()) m.train.args.push_back({arg.name.str(), arg.strDefault.str()});
        else m.train.args.push_back({arg.name.str(), arg.numDefault});
      }
      return true;
    }
    if (isKeyword("data")) {
      next();
      bool table = isKeyword("table");
      if (!table && !isKeyword("text")) return error("expected 'table' or 'text'");
      next();
      m.data.kind = table ? DataSpec::Table : DataSpec::Text;
      bool ok = arguments([&](const std::string &k, AttrValue v, llvm::SMLoc at, llvm::SMLoc valueAt) {
        bool isString = std::holds_alternative<std::string>(v);
        // A known argument of the wrong kind said "unknown data argument".
        if (k == "rows" && isString) return errorAt(valueAt, "rows is a number of rows, not a string");
        if ((k == "corpus" || k == "input" || k == "target") && !isString)
          return errorAt(valueAt, k + " is a string (a " + (k == "corpus" ? "path" : "input's name") + "), not a number");
        if (k == "rows") {
          // A row count is a whole number; the data graph's tensors bound it.
          double rows = std::get<double>(v);
          if (!(rows >= 1 && rows <= double(kMaxElements) && rows == std::floor(rows)))
            return errorAt(valueAt, "rows must be a whole number from 1 to " + llvm::Twine(kMaxElements));
          m.data.rows = int64_t(rows);
        }
        else if (k == "corpus") m.data.corpus = std::get<std::string>(v);
        else if (k == "input") m.data.textInput = std::get<std::string>(v);
        else if (k == "target") m.data.textTarget = std::get<std::string>(v);
        else return errorAt(at, "unknown data argument '" + k + "' (a table has rows; text has corpus, input, target)");
        return true;
      });
      // The printer always writes a table's rows; without them it would
      // print `rows = 0`, which does not read back.
      if (ok && table && m.data.rows == 0) return error("a data table needs its rows, e.g. {rows = 256}");
      return ok;
    }
    return error("expected 'after', 'source', 'train', 'data' or 'graph'");
  }

  template <typename F> bool arguments(F add) {
    if (!expect('{')) return false;
    while (!punct('}')) {
      if (tok.kind != IrToken::Ident) return error("expected an argument name");
      std::string k = tok.text.str();
      llvm::SMLoc at = tok.loc;
      next();
      AttrValue v;
      if (!expect('=')) return false;
      llvm::SMLoc valueAt = tok.loc;
      if (!looseValue(v) || !add(k, std::move(v), at, valueAt)) return false;
      if (!punct(',') && !(tok.kind == IrToken::Punct && tok.text == "}")) return error("expected ',' or '}'");
    }
    return true;
  }

  //===--- graphs -------------------------------------------------------------===//

  bool graph(Module &m) {
    llvm::SMLoc graphLoc = tok.loc;
    if (!keyword("graph")) return false;
    if (tok.kind != IrToken::At) return error("expected a graph name such as @train");
    if (m.graph(tok.text)) return error("graph @" + tok.text + " is defined twice");
    Graph &g = m.addGraph(tok.text.str());
    graphLocs[&g].graph = graphLoc;
    next();
    int64_t n;
    // Codegen trusts a parsed plan (kernel ids, arena offsets), so it is
    // held to bounds here: what lies outside them would be memory outside
    // the arena or a kernel that does not exist.
    if (isKeyword("arena")) {
      next();
      if (!expect('(') || !integer(n)) return false;
      if (n < 0 || n > kMaxArenaBytes) return errorAt(lastNumber, "an arena size from 0 to 2^62 bytes");
      if (!expect(')')) return false;
      g.arenaBytes = n;
    }
    if (!expect('{')) return false;
    values.clear();
    kernelLines.clear();
    while (isKeyword("kernel"))
      if (!kernel(g)) return false;
    while (isKeyword("slices"))
      if (!slices(g)) return false;
    while (!punct('}')) {
      if (tok.kind == IrToken::Eof) return error("expected '}' to close graph @" + g.name);
      if (!item(m, g)) return false;
    }
    return resolveKernels(g);
  }

  //===--- kernels ------------------------------------------------------------===//

  /// A kernel line's values, named before they are defined.
  struct KernelLine {
    llvm::SMLoc loc;
    std::vector<std::pair<llvm::StringRef, llvm::SMLoc>> stored, epilogue;
  };

  bool kernel(Graph &g) {
    KernelLine line{tok.loc, {}, {}};
    next();
    int64_t id;
    if (!integer(id)) return false;
    if (id != g.numKernels())
      return errorAt(line.loc, "kernel " + llvm::Twine(id) + " where kernel " + llvm::Twine(g.numKernels()) +
                                   " was expected: kernels are numbered from 0 in order");
    if (!expect('=')) return false;
    FusedKernel k;
    auto kind = tok.kind == IrToken::Ident ? parseKernelKind(tok.text) : std::nullopt;
    if (!kind) return error("expected a kernel kind: loop, column_reduce, matmul, scatter_add or random");
    k.kind = *kind;
    next();
    if (!dims(k.domain)) return false;
    auto names = [&](auto &out) {
      do {
        if (tok.kind != IrToken::Percent) return error("expected a value such as %x");
        out.push_back({tok.text, tok.loc});
        next();
      } while (punct(','));
      return true;
    };
    if (!keyword("stores") || !names(line.stored)) return false;
    if (isKeyword("epilogue")) {
      next();
      if (!names(line.epilogue)) return false;
    }
    g.kernels.push_back(std::move(k));
    kernelLines.push_back(std::move(line));
    return true;
  }

  /// `[12,4,64]`: a kernel's domain or a slice group's axes.
  bool dims(Dims &out) {
    if (!expect('[')) return false;
    while (!punct(']')) {
      int64_t d;
      if (!integer(d)) return false;
      if (d < 1 || d > kMaxElements) return errorAt(lastNumber, "dimensions must be from 1 to " + llvm::Twine(kMaxElements));
      out.push_back(d);
      if (!punct(',') && !(tok.kind == IrToken::Punct && tok.text == "]")) return error("expected ',' or ']'");
    }
    return true;
  }

  /// `slices 7 to 11 over [12,4] rows(32) scratch(32768)`; verifyKernels checks the
  /// group against its kernels.
  bool slices(Graph &g) {
    next();
    SliceGroup sg;
    int64_t first, last;
    llvm::SMLoc firstAt = tok.loc;
    if (!integer(first) || !keyword("to") || !integer(last)) return false;
    if (first < 0 || last >= g.numKernels() || first >= last)
      return errorAt(firstAt, "a slice group is two or more of the graph's " + llvm::Twine(g.numKernels()) + " kernels");
    sg.first = int32_t(first);
    sg.last = int32_t(last);
    llvm::SMLoc over = tok.loc;
    if (!keyword("over") || !dims(sg.batch)) return false;
    // The group's slice count is the product of its axes, taken before they
    // are matched with its kernels' domains: keep it from overflowing.
    if (std::string problem = sizeProblem(sg.batch); !problem.empty())
      return errorAt(over, "a slice group over " + shapeStr(sg.batch) + " is too large: " + problem);
    if (isKeyword("rows")) {
      next();
      if (!expect('(') || !integer(sg.rowBlock)) return false;
      if (sg.rowBlock < 1) return errorAt(lastNumber, "a slice group's row block is one or more rows");
      if (!expect(')')) return false;
    }
    if (isKeyword("scratch")) {
      next();
      if (!expect('(') || !integer(sg.scratchBytes)) return false;
      if (sg.scratchBytes < 0 || sg.scratchBytes > kMaxScratchBytes)
        return errorAt(lastNumber, "a slice group's scratch is from 0 to " + llvm::Twine(kMaxScratchBytes) + " bytes");
      if (!expect(')')) return false;
    }
    g.sliceGroups.push_back(std::move(sg));
    return true;
  }

  /// Looks up the values the kernel lines name. The verifier holds them
  /// to the rules scheduling trusts once the graph is sound, and its
  /// problems are said at their kernel's line: checked here, first, an
  /// update of the wrong type was hidden behind the "kernel 6 stores
  /// nothing" that followed from it.
  bool resolveKernels(Graph &g) {
    for (size_t k = 0; k < kernelLines.size(); ++k) {
      KernelLine &line = kernelLines[k];
      for (auto [names, list] : {std::pair(&line.stored, &g.kernels[k].stored), std::pair(&line.epilogue, &g.kernels[k].epilogue)})
        for (auto &[name, loc] : *names) {
          auto it = values.find(name);
          if (it == values.end())
            return errorAt(loc, "kernel " + llvm::Twine(k) + " stores %" + name + ", which graph @" + g.name + " does not define");
          list->push_back(it->second);
        }
    }
    for (const KernelLine &line : kernelLines) graphLocs[&g].kernels.push_back(line.loc);
    return true;
  }

  Node *use() {
    if (tok.kind != IrToken::Percent) return fail("expected a value such as %x");
    auto it = values.find(tok.text);
    if (it == values.end()) return fail("use of undefined value %" + tok.text);
    next();
    return it->second;
  }

  bool item(Module &m, Graph &g) {
    if (isKeyword("output")) {
      graphLocs[&g].outputs.push_back(tok.loc);
      next();
      std::string name;
      if (!string(name) || !expect('=')) return false;
      Node *v = use();
      if (!v) return false;
      g.outputs.push_back({name, v});
      return true;
    }
    if (isKeyword("update")) {
      graphLocs[&g].updates.push_back(tok.loc);
      next();
      Node *t = use();
      if (!t || !expect('=')) return false;
      Node *v = use();
      if (!v) return false;
      g.updates.push_back({t, v});
      return true;
    }
    if (tok.kind != IrToken::Percent) return error("expected '%name = op ...', 'output' or 'update'");
    llvm::StringRef name = tok.text;
    llvm::SMLoc nameLoc = tok.loc;
    if (values.count(name)) return error("%" + name + " is defined twice");
    next();
    if (!expect('=')) return false;
    if (tok.kind != IrToken::Ident) return error("expected an op name");
    auto op = parseOpKind(tok.text);
    if (!op) return error("unknown op '" + tok.text + "'");
    const OpInfo &info = opInfo(*op);
    next();
    auto node = std::make_unique<Node>(*op, TensorType());
    while (tok.kind == IrToken::Percent) {
      Node *v = use();
      if (!v) return false;
      node->operands.push_back(v);
      if (!punct(',')) break;
    }
    if (punct('{')) {
      while (!punct('}')) {
        if (tok.kind != IrToken::Ident) return error("expected an attribute name");
        auto key = parseAttrKey(tok.text);
        if (!key || !llvm::is_contained(info.attrs, *key)) return error("'" + info.mnemonic + "' has no attribute '" + tok.text + "'");
        // The last one silently won, as a train line's repeated argument does not.
        if (node->attrs.has(*key)) return error("attribute '" + tok.text + "' is given twice");
        next();
        AttrValue v = true;
        if (punct('=') ? !value(attrKind(*key), v) : attrKind(*key) != AttrKind::Bool)
          return failed ? false : error("attribute needs a value");
        node->attrs.set(*key, std::move(v));
        if (!punct(',') && !(tok.kind == IrToken::Punct && tok.text == "}")) return error("expected ',' or '}'");
      }
    }
    if (!expect(':') || !type(node->type)) return false;
    // Optional trailers, in printing order.
    if (isKeyword("loc")) {
      next();
      std::string file;
      int64_t line, col;
      // Messages print them as file:line:col: -3 came out as 4294967293.
      auto fits = [](int64_t v) { return v >= 1 && v <= UINT32_MAX; };
      if (!expect('(') || !string(file) || !expect(':') || !integer(line)) return false;
      llvm::SMLoc lineAt = lastNumber;
      if (!expect(':') || !integer(col)) return false;
      if (!fits(line) || !fits(col))
        return errorAt(fits(line) ? lastNumber : lineAt, "a loc's line and column count from 1, but this one is " +
                                                             llvm::Twine(line) + ":" + llvm::Twine(col));
      if (!expect(')')) return false;
      node->loc = Location{m.fileId(file), uint32_t(line), uint32_t(col)};
    }
    if (isKeyword("grad") || isKeyword("optim")) {
      node->prov.phase = tok.text == "grad" ? Phase::Backward : Phase::Optimizer;
      next();
      if (!expect('(') || !string(node->prov.of) || !expect(',') || !string(node->prov.rule) || !expect(')')) return false;
    }
    if (isKeyword("kernel")) {
      next();
      int64_t k;
      if (!expect('(') || !integer(k)) return false;
      if (k < 0 || k >= g.numKernels())
        return errorAt(lastNumber, "kernel " + llvm::Twine(k) + " is not one of the graph's " + llvm::Twine(g.numKernels()) + " kernels");
      if (!expect(')')) return false;
      node->kernel = int32_t(k);
    }
    if (isKeyword("slot")) {
      next();
      node->storage.kind = Storage::Slot;
      if (!expect('(') || !string(node->storage.slot) || !expect(')')) return false;
    } else if (isKeyword("arena")) {
      next();
      node->storage.kind = Storage::Arena;
      int64_t &off = node->storage.offset;
      if (!expect('(') || !integer(off)) return false;
      if (off < 0 || off > g.arenaBytes - node->type.bytes())
        return errorAt(lastNumber, str(node->type) + " at offset " + llvm::Twine(off) + " does not fit the graph's arena(" +
                     llvm::Twine(g.arenaBytes) + ")");
      if (!expect(')')) return false;
    } else if (isKeyword("local")) {
      next();
      node->storage.kind = Storage::Local;
      if (!expect('(') || !integer(node->storage.offset)) return false;
      if (node->storage.offset < 0 || node->storage.offset > kMaxScratchBytes)
        return errorAt(lastNumber, "a local offset from 0 to " + llvm::Twine(kMaxScratchBytes) + " bytes");
      if (!expect(')')) return false;
    } else if (isKeyword("view")) {
      next();
      // A view reads its operand's bytes: only a reshape has that operand.
      if (*op != OpKind::Reshape) return error("only a reshape can be a view of its operand's bytes");
      node->storage.kind = Storage::View;
    }
    // Numbers are what the printer gives unnamed values.
    bool numeric = !name.empty() && llvm::all_of(name, [](char c) { return std::isdigit((unsigned char)c); });
    if (!numeric) node->name = name.str();
    llvm::SmallVector<TensorType, 3> types;
    for (Node *o : node->operands) types.push_back(o->type);
    auto t = inferType(*op, types, node->attrs, &node->type);
    if (!t) {
      printMessage(sm, errs, nameLoc, llvm::SourceMgr::DK_Error, llvm::toString(t.takeError()));
      failed = true;
      return false;
    }
    if (*t != node->type) {
      printMessage(sm, errs, nameLoc, llvm::SourceMgr::DK_Error,
                      "'" + info.mnemonic + "' computes " + str(*t) + ", not the declared " + str(node->type));
      failed = true;
      return false;
    }
    Node *added = g.append(std::move(node));
    values[name] = added;
    nodeLocs[added] = nameLoc;
    return true;
  }

  llvm::SourceMgr &sm;
  llvm::raw_ostream &errs;
  llvm::ArrayRef<llvm::StringRef> stages;
  llvm::SMLoc afterLoc, moduleLoc;
  llvm::StringRef text;
  const char *cur;
  IrToken tok{};
  bool failed = false;
  llvm::StringMap<Node *> values;
  std::vector<KernelLine> kernelLines; // of the graph being parsed
  // Where each node, output and update was written, for the verifier's
  // problems (a graph's outputs and updates in the order of its lists).
  struct GraphLocs {
    llvm::SMLoc graph;
    std::vector<llvm::SMLoc> outputs, updates, kernels;
  };
  llvm::DenseMap<const Graph *, GraphLocs> graphLocs;
  llvm::DenseMap<const Node *, llvm::SMLoc> nodeLocs;
};

} // namespace

std::unique_ptr<Module> parseModule(llvm::SourceMgr &sm, unsigned bufferId, llvm::raw_ostream &errs,
                                    llvm::ArrayRef<llvm::StringRef> stages) {
  return IrParser(sm, bufferId, errs, stages).run();
}

std::unique_ptr<Module> parseModule(llvm::StringRef text, llvm::StringRef name, llvm::raw_ostream &errs,
                                    llvm::ArrayRef<llvm::StringRef> stages) {
  llvm::SourceMgr sm;
  unsigned id = sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name), llvm::SMLoc());
  return parseModule(sm, id, errs, stages);
}

} // namespace gradc
