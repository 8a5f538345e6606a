//===- tests/unit/ThreadChoiceTest.cpp - all threads or one, by measurement ===//
//
// train times steps on all threads against steps on one (the context's pool
// removed) and keeps the faster. Fed made-up step times, the choice must
// probe both sides, keep all threads unless one is clearly (5%) faster, say
// so when it picks one, run every later step on its pick, and measure again
// after 30 s of training.
//
//===----------------------------------------------------------------------===//
#include "runtime/driver/ThreadChoice.h"
#include "runtime/core/ThreadPool.h"

#include <gtest/gtest.h>

using grt::ThreadChoice;
using grt::ThreadPool;

namespace {

struct Training {
  ThreadPool pool{2};
  GrtContext ctx;
  ThreadChoice choice;
  int stepsOnAll = 0, stepsOnOne = 0;
  explicit Training(bool enabled = true) : choice((ctx.pool = &pool, ctx), &pool, enabled) {}

  /// One step taking `onAll` or `onOne` seconds, as the pool it sees says.
  std::string step(double onAll, double onOne) {
    choice.beforeStep();
    bool all = ctx.pool == &pool;
    ++(all ? stepsOnAll : stepsOnOne);
    return choice.afterStep(all ? onAll : onOne);
  }
  /// Steps until a log line, at most `limit`; the line.
  std::string untilLine(double onAll, double onOne, int limit, int *taken = nullptr) {
    for (int i = 1; i <= limit; ++i)
      if (std::string line = step(onAll, onOne); !line.empty()) {
        if (taken) *taken = i;
        return line;
      }
    return "";
  }
};

TEST(ThreadChoice, PicksOneThreadWhenItIsClearlyFaster) {
  Training r;
  int taken = 0;
  std::string line = r.untilLine(0.068e-3, 0.046e-3, 100000, &taken);
  ASSERT_NE(line.find("threads: 1 for this model"), std::string::npos) << line;
  EXPECT_NE(line.find("0.068 ms/step on 2 threads, 0.046 on 1"), std::string::npos) << line;
  // Steps of 46-68 µs: each side runs until 300 measured steps (short of
  // 20 ms), 3 measured in each block of 4.
  EXPECT_EQ(r.stepsOnOne, 400);
  EXPECT_EQ(r.stepsOnAll, 3 + 400);
  // Decided: every step on one thread now.
  int before = r.stepsOnAll;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.step(0.068e-3, 0.046e-3), "");
  EXPECT_EQ(r.stepsOnAll, before);
  r.choice.finish();
  EXPECT_EQ(r.ctx.pool, &r.pool);
}

TEST(ThreadChoice, KeepsAllThreadsQuietlyUnlessOneIsFivePercentFaster) {
  Training r;
  EXPECT_EQ(r.untilLine(1.00, 0.96, 200), "");
  int before = r.stepsOnOne;
  for (int i = 0; i < 20; ++i) r.step(1.00, 0.96);
  EXPECT_LT(r.stepsOnOne, before + 20); // mostly on all threads again
}

TEST(ThreadChoice, MeasuresAgainAfterThirtySecondsAndSaysWhenTheChoiceChanges) {
  Training r;
  EXPECT_EQ(r.untilLine(1.0, 2.0, 40), ""); // all threads win: nothing said
  int taken = 0;
  // The machine gets busy: all threads now take 3 s a step. The next round
  // of probes (two blocks a side, 3 steps of each measured) starts within
  // 30 s of training and picks one thread.
  std::string line = r.untilLine(3.0, 1.0, 60, &taken);
  EXPECT_NE(line.find("threads: 1 for this model"), std::string::npos) << line;
  EXPECT_NE(line.find("3000 ms/step on 2 threads, 1000 on 1"), std::string::npos) << line;
  EXPECT_NE(line.find("medians of 6 steps"), std::string::npos) << line;
}

TEST(ThreadChoice, LooksLessOftenWhileTheChoiceStands) {
  Training r;
  EXPECT_EQ(r.untilLine(1.0, 2.0, 40), ""); // decided: all threads; next look after 30 s
  for (int i = 0; i < 45; ++i) r.step(1.0, 2.0); // the look at 30 s agrees: next after 60 s
  int one = r.stepsOnOne;
  for (int i = 0; i < 50; ++i) r.step(1.0, 2.0);
  EXPECT_EQ(r.stepsOnOne, one) << "probed again before 60 s";
  for (int i = 0; i < 30; ++i) r.step(1.0, 2.0);
  EXPECT_GT(r.stepsOnOne, one) << "did not probe again after 60 s";
}

TEST(ThreadChoice, DecidesOnTinyStepsWithinABoundedNumberOfSteps) {
  Training r;
  int taken = 0;
  std::string line = r.untilLine(2e-7, 1e-7, 2000, &taken); // 0.02 s would take 100,000 steps
  EXPECT_NE(line.find("threads: 1 for this model"), std::string::npos) << "after " << taken << " steps";
}

TEST(ThreadChoice, DoesNothingWhenOffOrWithOneThread) {
  Training off(false);
  EXPECT_EQ(off.untilLine(1.0, 0.1, 50), "");
  EXPECT_EQ(off.stepsOnOne, 0);
  GrtContext serial;
  ThreadChoice none(serial, nullptr, true);
  none.beforeStep();
  EXPECT_EQ(serial.pool, nullptr);
  EXPECT_EQ(none.afterStep(1.0), "");
}

} // namespace
