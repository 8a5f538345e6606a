//===- runtime/driver/Json.cpp - the little JSON the runtime reads and writes ===//
#include "driver/Json.h"
#include "core/Runtime.h"

#include <cstdlib>
#include <fmt/format.h>

namespace grt {

const Json *Json::get(const std::string &key) const {
  auto it = object.find(key);
  return kind == Object && it != object.end() ? &it->second : nullptr;
}

namespace {

class JsonParser {
public:
  explicit JsonParser(const std::string &t) : t(t) {}

  bool parse(Json &out, std::string &error) {
    bool ok = value(out, 0);
    skip();
    if (ok && pos != t.size()) ok = fail("trailing characters");
    if (!ok) error = fmt::format("{} at byte {}", err, pos);
    return ok;
  }

private:
  bool fail(const std::string &msg) {
    if (err.empty()) err = msg;
    return false;
  }
  /// Four hex digits at pos, read into `code`.
  bool hex4(unsigned &code) {
    if (pos + 4 > t.size()) return false;
    for (int i = 0; i < 4; ++i) {
      char h = t[pos + size_t(i)];
      int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) return false;
      code = code * 16 + unsigned(d);
    }
    pos += 4;
    return true;
  }
  static void appendUtf8(std::string &out, unsigned code) {
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }
  void skip() {
    while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\n' || t[pos] == '\t' || t[pos] == '\r')) ++pos;
  }
  bool value(Json &out, int depth) {
    if (depth > 64) return fail("nested too deeply");
    skip();
    if (pos >= t.size()) return fail("unexpected end");
    char c = t[pos];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.kind = Json::String;
      return str(out.string);
    }
    if (t.compare(pos, 4, "true") == 0 || t.compare(pos, 5, "false") == 0) {
      out.kind = Json::Bool;
      out.boolean = c == 't';
      pos += out.boolean ? 4 : 5;
      return true;
    }
    if (t.compare(pos, 4, "null") == 0) {
      pos += 4;
      return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      const char *start = t.c_str() + pos;
      char *end;
      out.kind = Json::Number;
      out.number = std::strtod(start, &end);
      if (end == start) return fail("bad number");
      pos += end - start;
      return true;
    }
    return fail("unexpected character");
  }
  bool str(std::string &out) {
    ++pos; // opening quote
    while (pos < t.size() && t[pos] != '"') {
      char c = t[pos++];
      if (c == '\\') {
        if (pos >= t.size()) return fail("unterminated string");
        char e = t[pos++];
        switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case '"': case '\\': case '/': c = e; break;
        case 'u': {
          // \uXXXX, a UTF-16 unit: written out as UTF-8, a surrogate
          // pair as one code point (Python's json.dumps escapes every
          // non-ASCII character so). The four hex digits are required: a
          // "\u12" or "\uzzzz" was read as a number strtoul made of it.
          unsigned code = 0;
          if (!hex4(code)) return fail("bad \\u escape: four hex digits must follow");
          if (code >= 0xDC00 && code < 0xE000) return fail("bad \\u escape: a low surrogate with no high one before it");
          if (code >= 0xD800 && code < 0xDC00) {
            unsigned low = 0;
            if (t.compare(pos, 2, "\\u") != 0 || (pos += 2, !hex4(low)) || low < 0xDC00 || low >= 0xE000)
              return fail("bad \\u escape: a high surrogate with no low one after it");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          appendUtf8(out, code);
          continue;
        }
        default: return fail(fmt::format("bad escape {}", shown(std::string("\\") + e)));
        }
      }
      out += c;
    }
    if (pos >= t.size()) return fail("unterminated string");
    ++pos;
    return true;
  }
  bool array(Json &out, int depth) {
    out.kind = Json::Array;
    ++pos;
    skip();
    if (pos < t.size() && t[pos] == ']') return ++pos, true;
    while (true) {
      out.array.emplace_back();
      if (!value(out.array.back(), depth + 1)) return false;
      skip();
      if (pos < t.size() && t[pos] == ',') { ++pos; continue; }
      if (pos < t.size() && t[pos] == ']') return ++pos, true;
      return fail("expected ',' or ']'");
    }
  }
  bool object(Json &out, int depth) {
    out.kind = Json::Object;
    ++pos;
    skip();
    if (pos < t.size() && t[pos] == '}') return ++pos, true;
    while (true) {
      skip();
      if (pos >= t.size() || t[pos] != '"') return fail("expected a key");
      std::string key;
      if (!str(key)) return false;
      skip();
      if (pos >= t.size() || t[pos] != ':') return fail("expected ':'");
      ++pos;
      // A second value for a key would be parsed into the first (strings
      // appended, arrays grown): "step":"1","step":"5" read as step 15.
      if (out.object.count(key)) {
        err = "the key \"" + shown(key, 64) + "\" is given twice";
        return false;
      }
      if (!value(out.object[key], depth + 1)) return false;
      skip();
      if (pos < t.size() && t[pos] == ',') { ++pos; continue; }
      if (pos < t.size() && t[pos] == '}') return ++pos, true;
      return fail("expected ',' or '}'");
    }
  }

  const std::string &t;
  size_t pos = 0;
  std::string err;
};

} // namespace

bool parseJson(const std::string &text, Json &out, std::string &error) { return JsonParser(text).parse(out, error); }

std::string jsonQuote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if ((unsigned char)c < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += c;
  }
  return out + "\"";
}

} // namespace grt
