//===- runtime/driver/Checkpoint.cpp - saving and restoring training ------===//
#include "driver/Checkpoint.h"

#include "driver/Json.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace grt {

static const char *safetensorsDType(int dtype) {
  switch (dtype) {
  case GRT_F32: return "F32";
  case GRT_F64: return "F64";
  case GRT_I32: return "I32";
  default: return "BOOL";
  }
}

static bool saved(const Session::Slot &s) { return s.tensor->role == GRT_PARAM || s.tensor->role == GRT_STATE; }

/// write() all of `data`, retrying on short writes.
static bool writeAll(int fd, const char *data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= size_t(w);
  }
  return true;
}

void saveCheckpoint(const std::string &path, Session &s, const Metadata &meta) {
  // Header: tensors in descriptor order, then metadata.
  std::string header = "{";
  size_t offset = 0;
  for (auto &sl : s.slots) {
    if (!saved(sl)) continue;
    std::string shape;
    for (int i = 0; i < sl.tensor->rank; ++i) shape += (i ? "," : "") + std::to_string(sl.tensor->dims[i]);
    header += fmt::format("{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}},", jsonQuote(sl.tensor->name),
                          safetensorsDType(sl.tensor->dtype), shape, offset, offset + sl.bytes);
    offset += sl.bytes;
  }
  header += "\"__metadata__\":{";
  bool first = true;
  for (auto &[k, v] : meta) {
    header += (first ? "" : ",") + jsonQuote(k) + ":" + jsonQuote(v);
    first = false;
  }
  header += "}}";
  while (header.size() % 8) header += ' '; // safetensors pads the header to 8 bytes

  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  std::string tmp = fmt::format("{}.tmp-{}", path, getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("cannot save checkpoint {}: {}", path, std::strerror(errno));
  uint64_t n = header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = (n >> (8 * i)) & 0xff;
  bool ok = writeAll(fd, reinterpret_cast<char *>(len), 8) && writeAll(fd, header.data(), header.size());
  for (auto &sl : s.slots)
    if (ok && saved(sl)) ok = writeAll(fd, static_cast<const char *>(sl.data), sl.bytes);
  int err = errno;
  ok = ok && ::fsync(fd) == 0;
  if (!ok) err = errno;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    fail("cannot save checkpoint {}: {} (the previous checkpoint, if any, is unchanged)", path, std::strerror(err));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

Metadata loadCheckpoint(const std::string &path, Session &s) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read checkpoint {}: {}", path, std::strerror(errno));
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  in.seekg(0);
  unsigned char len[8];
  if (size < 8 || !in.read(reinterpret_cast<char *>(len), 8)) fail("checkpoint {} is truncated: no header", path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  if (n > uint64_t(size - 8) || n > (100u << 20)) fail("checkpoint {} is truncated or not a safetensors file", path);
  std::string header(n, '\0');
  if (!in.read(header.data(), n)) fail("checkpoint {} is truncated in its header", path);
  Json h;
  std::string err;
  if (!parseJson(header, h, err) || h.kind != Json::Object) fail("checkpoint {} has a corrupt header ({})", path, err);
  int64_t dataSize = size - 8 - int64_t(n);

  for (auto &sl : s.slots) {
    if (!saved(sl)) continue;
    const GrtTensor &t = *sl.tensor;
    const Json *e = h.get(t.name);
    if (!e) fail("checkpoint {} has no tensor '{}'; was it saved from a different model?", path, t.name);
    const Json *dt = e->get("dtype"), *shape = e->get("shape"), *offs = e->get("data_offsets");
    if (!dt || !shape || !offs || shape->kind != Json::Array || offs->kind != Json::Array || offs->array.size() != 2)
      fail("checkpoint {}: entry '{}' is malformed", path, t.name);
    if (dt->string != safetensorsDType(t.dtype))
      fail("checkpoint {}: tensor '{}' is {}, the model expects {}", path, t.name, dt->string, safetensorsDType(t.dtype));
    std::string got = "[";
    bool same = int(shape->array.size()) == t.rank;
    for (size_t i = 0; i < shape->array.size(); ++i) {
      got += (i ? "," : "") + fmt::format("{}", int64_t(shape->array[i].number));
      same = same && int64_t(shape->array[i].number) == t.dims[i];
    }
    got += "]";
    if (!same) fail("checkpoint {}: tensor '{}' has shape {}, the model expects {}", path, t.name, got, shapeStr(t));
    int64_t b = int64_t(offs->array[0].number), e2 = int64_t(offs->array[1].number);
    if (b < 0 || e2 - b != int64_t(sl.bytes) || e2 > dataSize)
      fail("checkpoint {} is truncated: tensor '{}' lies past the end of the file", path, t.name);
    in.seekg(8 + int64_t(n) + b);
    if (!in.read(static_cast<char *>(sl.data), sl.bytes)) fail("checkpoint {}: cannot read tensor '{}'", path, t.name);
  }
  Metadata meta;
  if (const Json *md = h.get("__metadata__"))
    for (auto &[k, v] : md->object) meta[k] = v.string;
  return meta;
}

} // namespace grt
