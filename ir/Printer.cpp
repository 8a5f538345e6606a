//===- ir/Printer.cpp - the text form of the IR ---------------------------===//
#include "ir/Printer.h"

#include "llvm/ADT/StringSet.h"

namespace gradc {

static std::string quoted(llvm::StringRef s) { return attrValueStr(AttrValue(s.str())); }

llvm::DenseMap<const Node *, std::string> valueNames(const Graph &g) {
  llvm::DenseMap<const Node *, std::string> names;
  llvm::StringSet<> used;
  // The next suffix to try per name: a loop unrolled 20,000 times makes
  // 20,000 values named h, and probing .1, .2, ... from 1 each time would be
  // quadratic. The suffixes below it are taken already (`used` only grows).
  llvm::StringMap<unsigned> nextSuffix;
  // Named values first claim their names, so numbers never shadow them.
  for (auto &n : g.nodes) {
    if (n->name.empty()) continue;
    std::string name = n->name;
    unsigned &k = nextSuffix[n->name];
    if (k == 0) k = 1;
    for (; used.count(name); ++k) name = n->name + "." + std::to_string(k);
    used.insert(name);
    names[n.get()] = name;
  }
  unsigned next = 0;
  for (auto &n : g.nodes) {
    if (!n->name.empty()) continue;
    std::string name;
    do name = std::to_string(next++);
    while (used.count(name));
    used.insert(name);
    names[n.get()] = name;
  }
  return names;
}

static void printLoc(const Module &m, const Location &l, llvm::raw_ostream &os) {
  if (!l.known()) return;
  os << " loc(" << quoted(m.files[l.file]) << ":" << l.line << ":" << l.col << ")";
}

/// `kernel 1 = matmul [6,4] stores %mm epilogue %y`
static void printKernel(size_t id, const FusedKernel &k, llvm::DenseMap<const Node *, std::string> &names,
                        llvm::raw_ostream &os) {
  os << "  kernel " << id << " = " << kernelKindName(k.kind) << " [";
  llvm::interleave(k.domain, os, ",");
  os << "]";
  auto values = [&](llvm::StringRef what, const std::vector<Node *> &list) {
    if (list.empty()) return;
    os << " " << what;
    for (size_t i = 0; i < list.size(); ++i) os << (i ? ", %" : " %") << names[list[i]];
  };
  values("stores", k.stored);
  values("epilogue", k.epilogue);
  os << "\n";
}

void print(const Module &m, const Graph &g, llvm::raw_ostream &os, const PrintOptions &opts) {
  auto names = valueNames(g);
  os << "graph @" << g.name;
  if (g.arenaBytes) os << " arena(" << g.arenaBytes << ")";
  os << " {\n";
  for (size_t k = 0; k < g.kernels.size(); ++k) printKernel(k, g.kernels[k], names, os);
  // `slices 7 to 11 over [12,4] rows(32) scratch(32768)`: kernels 7 to 11 run
  // slice by slice over the first two axes, 32 rows of the third at a time
  // (passes/SliceFusion.cpp).
  for (const SliceGroup &sg : g.sliceGroups) {
    os << "  slices " << sg.first << " to " << sg.last << " over [";
    llvm::interleave(sg.batch, os, ",");
    os << "]";
    if (sg.rowBlock) os << " rows(" << sg.rowBlock << ")";
    if (sg.scratchBytes) os << " scratch(" << sg.scratchBytes << ")";
    os << "\n";
  }
  // The comment header shows when the source line (or, for backward nodes,
  // the value being differentiated) changes from one node to the next.
  std::string lastHeader;
  for (auto &np : g.nodes) {
    const Node &n = *np;
    if (opts.sourceComments) {
      std::string header;
      llvm::StringRef src = m.sourceLine(n.loc).trim();
      std::string where = n.loc.known() ? m.files[n.loc.file] + ":" + std::to_string(n.loc.line) : "";
      if (n.prov.phase == Phase::Forward && !src.empty())
        header = "// " + where + ": " + src.str();
      else if (n.prov.phase != Phase::Forward)
        header = "// " + phaseName(n.prov.phase).str() + " of " + n.prov.of +
                 (src.empty() ? "" : "   (" + where + ": " + src.str() + ")");
      // A quoted source line may hold a newline (text IR's strings escape
      // one as \n); printed raw it would end the comment early.
      for (size_t at = 0; (at = header.find('\n', at)) != std::string::npos; at += 2) header.replace(at, 1, "\\n");
      if (!header.empty() && header != lastHeader) os << "  " << header << "\n";
      lastHeader = header;
    }
    os << "  %" << names[&n] << " = " << n.info().mnemonic;
    for (unsigned i = 0; i < n.operands.size(); ++i) os << (i ? ", %" : " %") << names[n.operands[i]];
    if (!n.attrs.entries().empty()) {
      os << " {";
      bool first = true;
      for (auto &[key, v] : n.attrs.entries()) {
        os << (first ? "" : ", ") << attrName(key);
        if (!std::holds_alternative<bool>(v)) os << " = " << attrValueStr(v);
        first = false;
      }
      os << "}";
    }
    os << " : " << str(n.type);
    printLoc(m, n.loc, os);
    if (n.prov.phase != Phase::Forward)
      os << " " << (n.prov.phase == Phase::Backward ? "grad" : "optim") << "(" << quoted(n.prov.of) << ", "
         << quoted(n.prov.rule) << ")";
    if (n.kernel >= 0) os << " kernel(" << n.kernel << ")";
    switch (n.storage.kind) {
    case Storage::None: break;
    case Storage::Slot: os << " slot(" << quoted(n.storage.slot) << ")"; break;
    case Storage::Arena: os << " arena(" << n.storage.offset << ")"; break;
    case Storage::View: os << " view"; break;
    case Storage::Local: os << " local(" << n.storage.offset << ")"; break;
    }
    os << "\n";
  }
  for (auto &o : g.outputs) os << "  output " << quoted(o.name) << " = %" << names[o.value] << "\n";
  for (auto &u : g.updates) os << "  update %" << names[u.target] << " = %" << names[u.value] << "\n";
  os << "}\n";
}

void print(const Module &m, llvm::raw_ostream &os, const PrintOptions &opts) {
  os << "module " << m.name << "\n";
  if (!m.after.empty()) os << "  after " << quoted(m.after) << "\n";
  // Sorted by file name and line, so the order does not depend on file ids.
  std::vector<std::tuple<std::string, uint32_t, std::string>> lines;
  for (auto &[key, text] : m.sourceLines) lines.push_back({m.files[key.first], key.second, text});
  std::sort(lines.begin(), lines.end());
  for (auto &[file, line, text] : lines) os << "  source " << quoted(file) << ":" << line << " " << quoted(text) << "\n";
  if (!m.train.optimizer.empty()) {
    os << "  train " << m.train.optimizer << " {";
    for (size_t i = 0; i < m.train.args.size(); ++i)
      os << (i ? ", " : "") << m.train.args[i].first << " = " << attrValueStr(m.train.args[i].second);
    os << "}\n";
  }
  if (m.data.kind == DataSpec::Table) os << "  data table {rows = " << m.data.rows << "}\n";
  if (m.data.kind == DataSpec::Text)
    os << "  data text {corpus = " << quoted(m.data.corpus) << ", input = " << quoted(m.data.textInput)
       << ", target = " << quoted(m.data.textTarget) << "}\n";
  for (auto &g : m.graphs) {
    os << "\n";
    print(m, *g, os, opts);
  }
}

std::string toString(const Module &m, const PrintOptions &opts) {
  std::string s;
  llvm::raw_string_ostream os(s);
  print(m, os, opts);
  return s;
}

} // namespace gradc
