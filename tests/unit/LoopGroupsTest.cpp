//===- tests/unit/LoopGroupsTest.cpp - which kernels run as one loop ------===//
//
// codegen/LoopGroups.cpp joins consecutive kernels into one parallel loop
// only when none touches memory another writes. The arena is reused, so a
// kernel may write bytes an earlier one reads (or read what it wrote): such
// a pair must stay in order. Here kernels are made by hand, each storing
// into some buffers and loading others, to check every kind of overlap,
// the kernels that call the runtime, and the least work a group must have.
//
//===----------------------------------------------------------------------===//
#include "codegen/LoopGroups.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace gradc;
using namespace gradc::loops;

namespace {

struct Mem {
  std::string slot; // empty: the arena
  int64_t offset = 0, elements = 0;
};

/// A kernel of `work` elements that stores into `writes` and reads `reads`.
Kernel kernel(std::vector<Mem> writes, std::vector<Mem> reads, int64_t work = 1000,
              Stmt::Kind extra = Stmt::Let) {
  Kernel k;
  k.work = work;
  Stmt loop{Stmt::Loop};
  auto add = [&](const Mem &m) {
    Buffer b;
    b.type = Type::F32;
    b.isSlot = !m.slot.empty();
    b.slot = m.slot;
    b.offset = m.offset;
    b.elements = m.elements;
    k.buffers.push_back(b);
    return int(k.buffers.size() - 1);
  };
  for (const Mem &m : reads) add(m);
  for (const Mem &m : writes) {
    Stmt s{Stmt::Store};
    s.buffer = add(m);
    loop.body.push_back(s);
  }
  if (extra != Stmt::Let) loop.body.push_back(Stmt{extra});
  k.body.push_back(std::move(loop));
  return k;
}

/// Which kernels start a group: "1" where one joins the one before.
std::string joins(std::vector<Kernel> ks, int64_t parallelWork = 1000) {
  groupIndependentLoops(ks, parallelWork);
  std::string s;
  for (const Kernel &k : ks) s += k.joinsPrevious ? "1" : "0";
  return s;
}

std::vector<Kernel> list(std::initializer_list<Kernel *> ks) {
  std::vector<Kernel> out;
  for (Kernel *k : ks) out.push_back(std::move(*k));
  return out;
}

} // namespace

TEST(LoopGroups, DisjointUpdatesJoinOneGroup) {
  // Three parameter updates: each reads its gradient in the arena and the
  // shared learning rate, and writes its own slots.
  Kernel a = kernel({{"w"}, {"w.m"}}, {{"", 0, 100}, {"lr"}});
  Kernel b = kernel({{"b"}, {"b.m"}}, {{"", 400, 100}, {"lr"}});
  Kernel c = kernel({{"v"}, {"v.m"}}, {{"", 800, 10}, {"lr"}});
  EXPECT_EQ(joins(list({&a, &b, &c})), "011");
}

TEST(LoopGroups, EveryOverlapKeepsOrder) {
  // In the arena (byte offsets): b reads the last float a writes (read
  // after write); c is independent of b and joins it; d writes a float b
  // writes (write after write).
  Kernel a = kernel({{"", 0, 100}}, {{"x"}});
  Kernel b = kernel({{"", 1000, 10}}, {{"", 396, 1}});
  Kernel c = kernel({{"", 2000, 100}}, {{"y"}});
  Kernel d = kernel({{"", 1004, 1}}, {{"z"}});
  EXPECT_EQ(joins(list({&a, &b, &c, &d})), "0010");
  // A write after a read: the reused arena's usual case.
  Kernel e = kernel({{"", 4000, 10}}, {{"", 0, 100}});
  Kernel f = kernel({{"", 200, 1}}, {});
  EXPECT_EQ(joins(list({&e, &f})), "00");
  // Slots, by name: read after write, write after read, write after write.
  auto slots = [](const char *w2, const char *r2) {
    Kernel p = kernel({{"p"}}, {{"q"}});
    Kernel n = kernel({{w2}}, {{r2}});
    return joins(list({&p, &n}));
  };
  EXPECT_EQ(slots("r", "p"), "00");
  EXPECT_EQ(slots("q", "s"), "00");
  EXPECT_EQ(slots("p", "s"), "00");
  EXPECT_EQ(slots("r", "q"), "01"); // both only read q
}

TEST(LoopGroups, AdjacentBytesDoNotOverlap) {
  // a writes bytes [0, 400); b reads [400, 800): independent.
  Kernel a = kernel({{"", 0, 100}}, {});
  Kernel b = kernel({{"", 800, 100}}, {{"", 400, 100}});
  EXPECT_EQ(joins(list({&a, &b})), "01");
}

TEST(LoopGroups, RuntimeCallsAndSmallGroupsStayApart) {
  // A matrix product or a random fill calls the runtime, which has threads
  // of its own: it joins no group and ends the one before it.
  Kernel a = kernel({{"a"}}, {});
  Kernel b = kernel({{"b"}}, {}, 1000, Stmt::Gemm);
  Kernel c = kernel({{"c"}}, {});
  Kernel d = kernel({{"d"}}, {}, 1000, Stmt::Fill);
  Kernel e = kernel({{"e"}}, {});
  EXPECT_EQ(joins(list({&a, &b, &c, &d, &e})), "00000");
  // Two independent kernels with less work in all than a thread hand-off
  // is worth stay as they are.
  Kernel f = kernel({{"f"}}, {}, 400), g = kernel({{"g"}}, {}, 500);
  EXPECT_EQ(joins(list({&f, &g}), 1000), "00");
  Kernel h = kernel({{"h"}}, {}, 500), i = kernel({{"i"}}, {}, 500);
  EXPECT_EQ(joins(list({&h, &i}), 1000), "01");
}

TEST(LoopGroups, TheFirstKernelSaysHowManyJoinIt) {
  std::vector<Kernel> ks;
  for (int i = 0; i < 4; ++i) ks.push_back(kernel({{"w" + std::to_string(i)}}, {}));
  ks[0].summary = "%w0.next = sub : f32[10]";
  groupIndependentLoops(ks, 1000);
  EXPECT_EQ(ks[0].summary, "%w0.next = sub : f32[10] (with the next 3 as one parallel loop)");
}
