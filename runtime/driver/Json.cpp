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
  bool fail(const char *msg) {
    if (err.empty()) err = msg;
    return false;
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
        case 'u': {
          if (pos + 4 > t.size()) return fail("bad escape");
          unsigned code = std::strtoul(t.substr(pos, 4).c_str(), nullptr, 16);
          pos += 4;
          if (code < 0x80) c = char(code);
          else { out += '?'; continue; }
          break;
        }
        default: c = e;
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
