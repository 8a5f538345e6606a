//===- ir/Dot.cpp - the IR as a Graphviz picture --------------------------===//
#include "ir/Dot.h"

#include "ir/Printer.h"

namespace gradc {

static std::string escapeDot(llvm::StringRef s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void printDot(const Module &m, llvm::raw_ostream &os, llvm::StringRef only) {
  os << "digraph \"" << escapeDot(m.name) << "\" {\n"
     << "  rankdir=TB;\n"
     << "  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n"
     << "  edge [color=\"#555555\", arrowsize=0.6];\n";
  int gi = 0;
  for (auto &g : m.graphs) {
    if (!only.empty() && g->name != only) continue;
    auto names = valueNames(*g);
    std::string prefix = "g" + std::to_string(gi++) + "_";
    auto id = [&](const Node *n) { return prefix + std::to_string(n->id); };
    os << "  subgraph cluster_" << prefix << " {\n    label=\"@" << escapeDot(g->name)
       << "\"; fontname=\"Helvetica\"; color=\"#bbbbbb\";\n";
    for (auto &np : g->nodes) {
      const Node &n = *np;
      std::string label = escapeDot("%" + names[&n]) + "\\n" + escapeDot(n.info().mnemonic.str() + " " + str(n.type));
      std::string shape = "box", fill = "#cfe2ff";
      if (n.prov.phase == Phase::Backward) fill = "#ffd8b1";
      else if (n.prov.phase == Phase::Optimizer) fill = "#c7f0c2";
      if (n.is(OpKind::Param)) shape = "ellipse", fill = "#fff3b0";
      else if (n.is(OpKind::State)) shape = "ellipse", fill = "#e8e8e8";
      else if (n.is(OpKind::Const) || n.is(OpKind::Iota)) shape = "ellipse";
      else if (n.has(Leaf)) shape = "ellipse", fill = "#ffffff";
      os << "    " << id(&n) << " [label=\"" << label << "\", shape=" << shape << ", fillcolor=\"" << fill << "\"];\n";
      for (Node *op : n.operands) os << "    " << id(op) << " -> " << id(&n) << ";\n";
    }
    for (size_t i = 0; i < g->outputs.size(); ++i) {
      std::string o = prefix + "out" + std::to_string(i);
      os << "    " << o << " [label=\"output " << escapeDot(g->outputs[i].name)
         << "\", shape=plaintext, style=\"\"];\n    " << id(g->outputs[i].value) << " -> " << o << ";\n";
    }
    for (auto &u : g->updates)
      os << "    " << id(u.value) << " -> " << id(u.target)
         << " [style=dashed, color=\"#2a8f2a\", label=\"update\", fontsize=9, constraint=false];\n";
    os << "  }\n";
  }
  os << "  subgraph cluster_legend {\n    label=\"legend\"; fontname=\"Helvetica\"; color=\"#dddddd\";\n"
     << "    legend_f [label=\"forward\", shape=box, fillcolor=\"#cfe2ff\"];\n"
     << "    legend_b [label=\"backward\", shape=box, fillcolor=\"#ffd8b1\"];\n"
     << "    legend_o [label=\"optimizer\", shape=box, fillcolor=\"#c7f0c2\"];\n"
     << "    legend_p [label=\"param\", shape=ellipse, fillcolor=\"#fff3b0\"];\n"
     << "    legend_f -> legend_b -> legend_o -> legend_p [style=invis];\n  }\n";
  os << "}\n";
}

} // namespace gradc
