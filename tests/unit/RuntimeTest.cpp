//===- tests/unit/RuntimeTest.cpp - the runtime's own pieces --------------===//
#include "runtime/driver/Csv.h"
#include "runtime/driver/Json.h"
#include "runtime/driver/Plots.h"
#include "runtime/core/Runtime.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace grt;

namespace {

std::string tempFile(const std::string &name, const std::string &contents) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(Rng, DeterministicAndRestorable) {
  Rng a(42, 7), b(42, 7), c(43, 7);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(Rng(42, 7).next(), c.next());
  std::string saved = a.save();
  double x = a.uniform();
  Rng d;
  ASSERT_TRUE(d.restore(saved));
  EXPECT_EQ(d.uniform(), x);
  EXPECT_FALSE(d.restore("garbage"));
}

TEST(Rng, UniformAndNormalMoments) {
  Rng r(1);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double z = r.normal();
    sum += z;
    sq += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.01);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_LT(r.below(7), 7u);
  }
}

// Checkpoints carry a Checksum: fed in pieces as they are written or read,
// it must not depend on where they are cut, and must see any one flipped
// bit (of the last lane word, of the bytes short of a block, anywhere).
TEST(Checksum, PiecesDoNotMatterAndEveryBitCounts) {
  std::string bytes;
  Rng r(5);
  for (int i = 0; i < 1000; ++i) bytes += char(r.below(256));
  auto whole = [](std::string_view b) {
    Checksum c;
    c.add(b);
    return c.value();
  };
  uint64_t want = whole(bytes);
  for (size_t cut : {0, 1, 7, 31, 32, 33, 500, 999, 1000}) {
    Checksum c;
    c.add(std::string_view(bytes).substr(0, cut));
    c.add(std::string_view(bytes).substr(cut));
    EXPECT_EQ(c.value(), want) << "cut at " << cut;
  }
  Checksum many;
  for (char ch : bytes) many.add(std::string_view(&ch, 1));
  EXPECT_EQ(many.value(), want);
  for (size_t at = 0; at < bytes.size(); at += 37)
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[at] = char(flipped[at] ^ (1 << bit));
      EXPECT_NE(whole(flipped), want) << "byte " << at << " bit " << bit;
    }
  EXPECT_NE(whole(bytes.substr(0, 999)), want); // one byte short
  EXPECT_NE(whole(bytes + '\0'), want);         // one NUL more
  EXPECT_NE(whole(std::string(64, '\0')), whole(std::string(32, '\0')));
}

TEST(Json, ParsesSafetensorsHeaders) {
  Json j;
  std::string err;
  ASSERT_TRUE(parseJson(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"__metadata__":{"step":"5"}})", j, err))
      << err;
  ASSERT_TRUE(j.get("w"));
  EXPECT_EQ(j.get("w")->get("shape")->array[1].number, 3);
  EXPECT_EQ(j.get("__metadata__")->get("step")->string, "5");
}

// Python's json.dumps writes every non-ASCII character as \uXXXX (a
// pair of them past U+FFFF): read back as UTF-8, where each was a '?'.
// Four hex digits must follow \u ("\u12" was read as whatever strtoul made
// of it), and an escape JSON does not have is an error, not the letter.
TEST(Json, DecodesUnicodeEscapesAndRefusesBadOnes) {
  Json j;
  std::string err;
  ASSERT_TRUE(parseJson(R"({"a":"caf\u00e9 \u20AC \ud83d\ude00 \/\"\\"})", j, err)) << err;
  EXPECT_EQ(j.get("a")->string, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 /\"\\");
  for (const char *bad : {R"(["\u12"])", R"(["\uzzzz"])", R"(["\u00g1"])", R"(["\ud83d"])", R"(["\ud83d\u0041"])",
                          R"(["\ude00"])", R"(["\x41"])", R"(["\u"])"}) {
    err.clear();
    EXPECT_FALSE(parseJson(bad, j, err)) << bad;
    EXPECT_NE(err.find("escape"), std::string::npos) << bad << ": " << err;
  }
}

TEST(Json, RejectsGarbageWithAPosition) {
  Json j;
  std::string err;
  EXPECT_FALSE(parseJson("{\"a\": [1, 2", j, err));
  EXPECT_NE(err.find("at byte"), std::string::npos);
  EXPECT_FALSE(parseJson(std::string(100, '['), j, err));
  EXPECT_FALSE(parseJson("", j, err));
}

TEST(Shown, EscapesControlBytesAndCutsLongStrings) {
  // What a message quotes from a file stays on one line and cannot drive
  // the terminal.
  EXPECT_EQ(shown("w\n,4.adam_m"), "w\\n,4.adam_m");
  EXPECT_EQ(shown(std::string("a\0b\x1b[31m\t\x7f", 10)), "a\\x00b\\x1b[31m\\t\\x7f");
  EXPECT_EQ(shown(std::string(45, 'x')), std::string(40, 'x') + "... (45 characters)");
  EXPECT_EQ(shown("caf\xc3\xa9"), "caf\xc3\xa9"); // UTF-8 passes as it is
  EXPECT_EQ(shown("\xe2\x82\xac \xf0\x9f\x98\x80"), "\xe2\x82\xac \xf0\x9f\x98\x80"); // 3 and 4 bytes
  // Bytes that are no UTF-8 are escaped too: they showed as a replacement
  // character (a CSV field "\xff8").
  EXPECT_EQ(shown("\xff" "8"), "\\xff8");
  EXPECT_EQ(shown("a\x80z"), "a\\x80z");                 // a stray continuation byte
  // So are characters a terminal draws in no column or that reorder the
  // line: a right-to-left override, a zero-width space, a C1 next-line.
  EXPECT_EQ(shown("w\xe2\x80\xae\xe2\x80\x8b\xc2\x85"), "w\\u{202e}\\u{200b}\\u{0085}");
  EXPECT_EQ(shown("\xc0\xafx"), "\\xc0\\xafx");          // an overlong '/'
  EXPECT_EQ(shown("\xed\xa0\x80"), "\\xed\\xa0\\x80");    // a surrogate
  EXPECT_EQ(shown("caf\xc3"), "caf\\xc3");               // cut short
}

TEST(Fatal, ThrowsWhenAskedInsteadOfExiting) {
  // The file-reader fuzzer's mode: a refusal is an exception with the message.
  setFatalThrows(true);
  try {
    fail("bad {}", 42);
  } catch (const FatalError &e) {
    EXPECT_EQ(e.message, "bad 42");
  }
  setFatalThrows(false);
}

TEST(Csv, ReadsColumnsByName) {
  auto t = readCsv(tempFile("ok.csv", "x,y\n1,2\n3.5, -4e1\n"));
  EXPECT_EQ(t.rows, 2);
  EXPECT_EQ(t.columns[t.column("y")][1], -40);
  // Quoted fields: a comma inside quotes is part of the field, "" a quote.
  auto q = readCsv(tempFile("quoted.csv", "\"a,b\",\"c\"\"\"\n\"1.5\",2\n"));
  ASSERT_EQ(q.header.size(), 2u);
  EXPECT_EQ(q.header[0], "a,b");
  EXPECT_EQ(q.header[1], "c\"");
  EXPECT_EQ(q.numbers(0)[0], 1.5);
}

TEST(CsvDeathTest, BadFilesEndWithOneLine) {
  EXPECT_EXIT(readCsv(::testing::TempDir() + "missing.csv"), ::testing::ExitedWithCode(1),
              "error: cannot read .*missing.csv: No such file or directory");
  EXPECT_EXIT(readCsv(tempFile("empty.csv", "")), ::testing::ExitedWithCode(1), "error: .*empty.csv is empty");
  // A field that is not a number ends the program when its column is read;
  // a column nobody reads may hold text (an id, a label).
  auto text = readCsv(tempFile("nan.csv", "x,y\n1,2\n3,abc\n"));
  EXPECT_EQ(text.numbers(text.column("x"))[1], 3);
  EXPECT_EXIT(text.numbers(text.column("y")), ::testing::ExitedWithCode(1),
              "error: .*nan.csv:3: column 'y': 'abc' is not a finite number");
  EXPECT_EXIT(readCsv(tempFile("open.csv", "x,y\n\"1,2\n")), ::testing::ExitedWithCode(1),
              "error: .*open.csv:2: a quoted field is not closed on its line");
  EXPECT_EXIT(readCsv(tempFile("mid.csv", "x,y\n1\"2\",3\n")), ::testing::ExitedWithCode(1),
              "error: .*mid.csv:2: a quote in the middle of the field");
  EXPECT_EXIT(readCsv(tempFile("ragged.csv", "x,y\n1,2,3\n")), ::testing::ExitedWithCode(1),
              "error: .*ragged.csv:2: expected 2 fields like the header, found 3");
}

// The loss history a checkpoint keeps for --plot: thinned to at most
// kMaxPoints a series, keeping the first and the newest point, and thinned
// alike whether the run stopped and resumed (through the text a checkpoint
// holds) or not, so both draw the same picture.
TEST(History, ThinsAlikeAcrossAResume) {
  auto loss = [](int step) { return 1.0 / (1.0 + step); };
  Points straight, resumed;
  for (int step = 1; step <= 5000; ++step) History::add(straight, step, loss(step));
  ASSERT_LT(straight.size(), History::kMaxPoints);
  EXPECT_GT(straight.size(), History::kMaxPoints / 2);
  EXPECT_EQ(straight.front().first, 1);
  EXPECT_EQ(straight.back().first, 5000);
  for (size_t i = 1; i < straight.size(); ++i) ASSERT_LT(straight[i - 1].first, straight[i].first);
  for (int step = 1; step <= 2345; ++step) History::add(resumed, step, loss(step));
  Points read;
  ASSERT_EQ(History::fromText(History::toText(resumed), 2345, read), "");
  ASSERT_EQ(read, resumed); // 17 digits read back exactly
  for (int step = 2346; step <= 5000; ++step) History::add(read, step, loss(step));
  EXPECT_EQ(read, straight);
}

TEST(History, RefusesMalformedText) {
  Points p;
  EXPECT_EQ(History::fromText("", 10, p), "");
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(History::fromText("2:0.5 4:0.25", 4, p), "");
  EXPECT_EQ(p, (Points{{2, 0.5}, {4, 0.25}}));
  EXPECT_EQ(History::fromText("2:0.5 x", 4, p), "'x' is not STEP:LOSS");
  EXPECT_EQ(History::fromText("2:", 4, p), "'2:' is not STEP:LOSS");
  EXPECT_EQ(History::fromText("2:nan", 4, p), "'2:nan' is not STEP:LOSS");
  EXPECT_EQ(History::fromText("2.5:1", 4, p), "'2.5:1' is not STEP:LOSS");
  EXPECT_EQ(History::fromText("2:1  3:1", 4, p), "'' is not STEP:LOSS");
  EXPECT_EQ(History::fromText("3:1 3:1", 4, p), "its step 3 comes after step 3");
  EXPECT_EQ(History::fromText("0:1", 4, p), "its step 0 is not 1 or more");
  // Past the checkpoint's step (its step edited back): left out.
  EXPECT_EQ(History::fromText("2:1 5:1", 4, p), "");
  EXPECT_EQ(p, (Points{{2, 1}}));
}

} // namespace
