//===- tests/unit/KernelOrderTest.cpp - fusion's dynamic kernel order ------===//
#include "passes/KernelOrder.h"

#include <gtest/gtest.h>

#include <random>

using namespace gradc;

namespace {

/// Whether `to` is reachable from `from` in the reference graph.
bool reaches(const std::vector<std::vector<bool>> &edge, int from, int to) {
  std::vector<bool> seen(edge.size());
  std::vector<int> work{from};
  while (!work.empty()) {
    int k = work.back();
    work.pop_back();
    if (k == to) return true;
    if (seen[k]) continue;
    seen[k] = true;
    for (size_t s = 0; s < edge.size(); ++s)
      if (edge[k][s]) work.push_back(int(s));
  }
  return false;
}

TEST(KernelOrder, RefusesExactlyTheEdgesThatCloseACycle) {
  // Random edges among kernels created one by one, as fusion creates them,
  // checked against reachability in a plain adjacency matrix: an edge is
  // refused iff its head already reaches its tail. Edges against creation
  // order force reorderings, so later answers depend on those being right.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    KernelOrder order;
    std::vector<std::vector<bool>> edge;
    for (int step = 0; step < 200; ++step) {
      if (edge.empty() || rng() % 4 == 0) {
        order.addKernel();
        for (auto &row : edge) row.push_back(false);
        edge.push_back(std::vector<bool>(edge.size() + 1));
        continue;
      }
      int from = int(rng() % edge.size()), to = int(rng() % edge.size());
      bool cycle = from != to && reaches(edge, to, from);
      ASSERT_EQ(order.canAdd(from, to), !cycle) << "trial " << trial << " step " << step;
      ASSERT_EQ(order.add(from, to), !cycle) << "trial " << trial << " step " << step;
      if (!cycle && from != to) edge[from][to] = true;
    }
  }
}

TEST(KernelOrder, TwoSharedValuesCannotTieTwoKernels) {
  // fuse-shared.gir @cycle in miniature: kernel 1 reads a value joined
  // into kernel 0, so a value joined into kernel 1 cannot be read by 0.
  KernelOrder order;
  order.addKernel();
  order.addKernel();
  EXPECT_TRUE(order.add(0, 1));
  EXPECT_FALSE(order.canAdd(1, 0));
  EXPECT_FALSE(order.add(1, 0));
  EXPECT_TRUE(order.add(0, 1));
}

} // namespace
