// pageStatus(buffer, offset?, length?): number[]. move_pages(2) of the calling process with no
// target nodes, a status query: for each page of [offset, offset+length) of the buffer, the NUMA
// node it sits on, or -errno (-EFAULT: the zero page or no page; -ENOENT: not present). The
// kernel looks each page up with follow_page(vma, addr, FOLL_DUMP | FOLL_GET where not hugetlb)
// on 6.1 (a page reference, never a pin, and none for hugetlb), folio_walk since 6.12. Throws a
// Node-shaped errno error when the call itself fails (ENOSYS: a kernel without CONFIG_NUMA).
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "aligned_buffer.h"
#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

namespace {

constexpr size_t kPage = 4096;

Napi::Value PageStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AlignedBuffer* buffer = AlignedBuffer::From(env, Arg(info, 0), "buffer");
  Napi::Value o = Arg(info, 1), l = Arg(info, 2);
  size_t offset = o.IsUndefined() ? 0 : size_t(ToInteger(env, o, "offset", 0, int64_t(buffer->size())));
  size_t length = l.IsUndefined() ? buffer->size() - offset : size_t(ToInteger(env, l, "length", 1, int64_t(buffer->size())));
  if (offset % kPage || offset + length > buffer->size() || length == 0)
    ThrowRange(env, "The range must start on a page and lie inside the buffer");
  size_t n = (length + kPage - 1) / kPage;
  std::vector<void*> pages(n);
  for (size_t i = 0; i < n; i++) pages[i] = buffer->data() + offset + i * kPage;
  std::vector<int> status(n, 0);
  if (syscall(SYS_move_pages, 0, n, pages.data(), nullptr, status.data(), 0) < 0)
    throw ErrnoError(env, errno, "move_pages");
  Napi::Array out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) out.Set(uint32_t(i), Napi::Number::New(env, status[i]));
  return out;
}

}  // namespace

void InitPageStatus(Napi::Env env, Napi::Object exports) {
  exports.Set("pageStatus", Napi::Function::New<PageStatus>(env, "pageStatus"));
}

}  // namespace pinlab
