#include "batch.h"

#include <time.h>

#include <cmath>

#include "args.h"
#include "errors.h"

namespace pinlab {

int BufferHold::Add(Napi::Object object, AlignedBuffer* buffer) {
  for (size_t i = 0; i < buffers.size(); i++)
    if (buffers[i] == buffer) return int(i);
  buffers.push_back(buffer);
  refs_.push_back(Napi::Persistent(object));
  buffer->Hold();
  return int(buffers.size() - 1);
}

void BufferHold::ReleaseAll() {
  for (AlignedBuffer* b : buffers) b->Release();
  buffers.clear();
  for (auto& r : refs_) r.Reset();
  refs_.clear();
}

Direction ToDirection(Napi::Env env, Napi::Value v) {
  std::string d = ToString(env, v, "direction");
  if (d == "read") return Direction::kRead;
  if (d == "write") return Direction::kWrite;
  ThrowRange(env, "The \"direction\" argument must be 'read' or 'write'; received '" + d + "'");
}

// A segment's span in its buffer: not empty, not past the end. `where` names the op, if any.
static void CheckSpan(Napi::Env env, int64_t offset, int64_t length, int64_t size, const std::string& where = "") {
  if (length == 0) ThrowRange(env, "The value of \"length\" must be > 0; zero-length I/O is not a workload");
  if (offset + length > size)
    ThrowRange(env, "The segment " + std::to_string(offset) + "+" + std::to_string(length) + where +
                        " exceeds the buffer size " + std::to_string(size));
}

static Segment ParseSegment(Napi::Env env, Napi::Value buffer_v, Napi::Value offset_v,
                            Napi::Value length_v, BufferHold* hold) {
  AlignedBuffer* buffer = AlignedBuffer::From(env, buffer_v, "buffer");
  int64_t size = int64_t(buffer->size());
  int64_t offset = ToInteger(env, offset_v, "offset", 0, size);
  int64_t length = ToInteger(env, length_v, "length", 0, size);
  CheckSpan(env, offset, length, size);
  Segment s;
  s.buffer = hold->Add(buffer_v.As<Napi::Object>(), buffer);
  s.addr = buffer->data() + offset;
  s.length = size_t(length);
  return s;
}

static void Finish(Op* op) {
  op->length = 0;
  op->iov.clear();
  for (const Segment& s : op->segments) {
    op->length += s.length;
    op->iov.push_back({s.addr, s.length});
  }
}

static std::vector<Segment> ParseSegments(Napi::Env env, Napi::Value v, BufferHold* hold,
                                          size_t max_segments) {
  if (!v.IsArray()) ThrowType(env, "The \"segments\" argument must be an array");
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() == 0) ThrowRange(env, "The \"segments\" array is empty");
  if (arr.Length() > max_segments)
    ThrowRange(env, "Too many segments: " + std::to_string(arr.Length()) + " > " +
                        std::to_string(max_segments));
  std::vector<Segment> out;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsObject()) ThrowType(env, "Each segment must be an object { buffer, offset, length }");
    Napi::Object o = e.As<Napi::Object>();
    out.push_back(ParseSegment(env, o.Get("buffer"), o.Get("offset"), o.Get("length"), hold));
  }
  return out;
}

// A Float64Array of integers in [0, max], n elements (n = 0: any length).
static Napi::Float64Array ToIntegerArray(Napi::Env env, Napi::Value v, const char* name, size_t n) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowType(env, std::string("The \"") + name + "\" field must be a Float64Array");
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  if (a.ElementLength() == 0) ThrowRange(env, std::string("The \"") + name + "\" array is empty");
  if (n != 0 && a.ElementLength() != n)
    ThrowRange(env, std::string("The \"") + name + "\" array has " + std::to_string(a.ElementLength()) +
                        " elements; \"positions\" has " + std::to_string(n));
  for (size_t i = 0; i < a.ElementLength(); i++) {
    double d = a[i];
    if (!std::isfinite(d) || std::floor(d) != d || d < 0 || d > double(kMaxSafe))
      ThrowRange(env, std::string("The value of \"") + name + "[" + std::to_string(i) +
                          "]\" must be a non-negative safe integer, received " + std::to_string(d));
  }
  return a;
}

// { buffer, length, positions: Float64Array, offsets?: Float64Array }: op i moves `length`
// bytes between buffer+offsets[i] (0 without offsets) and file position positions[i]. The same
// ops as the array form, parsed with a constant number of calls into JavaScript.
static std::vector<Op> ParseUniform(Napi::Env env, Napi::Object o, BufferHold* hold) {
  AlignedBuffer* buffer = AlignedBuffer::From(env, o.Get("buffer"), "buffer");
  int64_t size = int64_t(buffer->size());
  int64_t length = ToInteger(env, o.Get("length"), "length", 0, size);
  CheckSpan(env, 0, length, size);
  Napi::Float64Array positions = ToIntegerArray(env, o.Get("positions"), "positions", 0);
  size_t n = positions.ElementLength();
  Napi::Value offsets_v = o.Get("offsets");
  bool has_offsets = !offsets_v.IsUndefined();
  Napi::Float64Array offsets = has_offsets ? ToIntegerArray(env, offsets_v, "offsets", n) : Napi::Float64Array();
  std::vector<Op> ops(n);
  int index = hold->Add(o.Get("buffer").As<Napi::Object>(), buffer);
  for (size_t i = 0; i < n; i++) {
    int64_t offset = has_offsets ? int64_t(offsets[i]) : 0;
    CheckSpan(env, offset, length, size, " of op " + std::to_string(i));
    ops[i].position = uint64_t(positions[i]);
    ops[i].segments.push_back({buffer->data() + offset, size_t(length), index});
    Finish(&ops[i]);
  }
  return ops;
}

std::vector<Op> ParseOps(Napi::Env env, Napi::Value v, BufferHold* hold, size_t max_segments) {
  if (v.IsObject() && !v.IsArray()) return ParseUniform(env, v.As<Napi::Object>(), hold);
  if (!v.IsArray()) ThrowType(env, "The \"ops\" argument must be an array or { buffer, length, positions, offsets? }");
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() == 0) ThrowRange(env, "The \"ops\" array is empty");
  std::vector<Op> ops(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsObject()) ThrowType(env, "Each op must be an object { position, segments }");
    Napi::Object o = e.As<Napi::Object>();
    ops[i].position = uint64_t(ToInteger(env, o.Get("position"), "position", 0, kMaxSafe));
    ops[i].segments = ParseSegments(env, o.Get("segments"), hold, max_segments);
    Finish(&ops[i]);
  }
  return ops;
}

std::vector<Op> ParseSingle(const Napi::CallbackInfo& info, size_t idx, BufferHold* hold) {
  Napi::Env env = info.Env();
  std::vector<Op> ops(1);
  ops[0].segments.push_back(ParseSegment(env, Arg(info, idx), Arg(info, idx + 1), Arg(info, idx + 2), hold));
  ops[0].position = uint64_t(ToInteger(env, Arg(info, idx + 3), "position", 0, kMaxSafe));
  Finish(&ops[0]);
  return ops;
}

std::vector<Op> ParseVector(const Napi::CallbackInfo& info, size_t idx, BufferHold* hold) {
  Napi::Env env = info.Env();
  std::vector<Op> ops(1);
  ops[0].segments = ParseSegments(env, Arg(info, idx), hold, 1024);
  ops[0].position = uint64_t(ToInteger(env, Arg(info, idx + 1), "position", 0, kMaxSafe));
  Finish(&ops[0]);
  return ops;
}

double NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

BatchWorker::BatchWorker(Napi::Env env, std::vector<Op> ops, BufferHold&& hold)
    : Napi::AsyncWorker(env, "pinlab:io"),
      ops_(std::move(ops)),
      deferred_(Napi::Promise::Deferred::New(env)),
      hold_(std::move(hold)) {
  buffers_ = hold_.buffers;
}

void BatchWorker::Execute() {
  double start = NowNs();
  Run();
  elapsed_ns_ = NowNs() - start;
}

void BatchWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  hold_.ReleaseAll();
  if (error_) {
    deferred_.Reject(ErrnoError(env, error_, error_syscall_, error_path_).Value());
    return;
  }
  if (single_) {
    const Op& op = ops_[0];
    if (op.result < 0)
      deferred_.Reject(ErrnoError(env, int(-op.result), *op.syscall ? op.syscall : single_).Value());
    else
      deferred_.Resolve(Napi::Number::New(env, double(op.result)));
    return;
  }
  Napi::Float64Array results = Napi::Float64Array::New(env, ops_.size());
  Napi::Float64Array latency = Napi::Float64Array::New(env, ops_.size());
  Napi::Array failures = Napi::Array::New(env);
  for (size_t i = 0; i < ops_.size(); i++) {
    results[i] = double(ops_[i].result);
    latency[i] = ops_[i].latency_ns;
    if (ops_[i].result < 0) {
      int err = int(-ops_[i].result);
      Napi::Object f = Napi::Object::New(env);
      f.Set("index", double(i));
      f.Set("errno", double(-err));
      f.Set("code", ErrnoName(err));
      f.Set("syscall", ops_[i].syscall);
      failures.Set(failures.Length(), f);
    }
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("results", results);
  out.Set("latencyNs", latency);
  out.Set("elapsedNs", elapsed_ns_);
  out.Set("failures", failures);
  Decorate(out);
  deferred_.Resolve(out);
}

void BatchWorker::OnError(const Napi::Error& e) {
  hold_.ReleaseAll();
  deferred_.Reject(e.Value());
}

}  // namespace pinlab
