// Status and StatusOr: the error tier for everything that can fail for reasons
// outside the program (network, peers, disk, input). Broken invariants of our own
// code use METAPS_CHECK in logging.h instead.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

namespace metaps {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input: config, data line, CLI flag
  kNotFound,
  kAlreadyExists,
  kDataLoss,           // checksum mismatch, truncated file
  kDeadlineExceeded,   // a peer did not answer in time
  kUnavailable,        // a peer is gone or unreachable
  kPermissionDenied,   // authentication refused
  kProtocolError,      // a malformed wire message
  kAborted,            // the job was stopped
  kInternal,           // an OS or library call failed
  kResourceExhausted,  // a bound on what a peer may hold was reached (the last code)
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", or "OK".
  std::string ToString() const;
  // Returns a copy whose message is "context: message" (for adding the call site).
  Status Annotate(const std::string& context) const;
  // Keeps the first error: becomes `other` only while this is OK (for waiting
  // on several operations and reporting the first failure).
  void Update(const Status& other) {
    if (ok() && !other.ok()) *this = other;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.ToString(); }

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status ProtocolError(std::string m) { return {StatusCode::kProtocolError, std::move(m)}; }
inline Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}

// An OS call failed: "what: strerror(errno)".
Status ErrnoStatus(const std::string& what, int err);

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // An OK status carries no value: it becomes an Internal error rather than a
  // StatusOr that says ok() and has nothing in it.
  StatusOr(const Status& status) : status_(status) { RejectOk(); }        // NOLINT
  StatusOr(Status&& status) : status_(std::move(status)) { RejectOk(); }  // NOLINT
  StatusOr(const T& value) : value_(value) {}                             // NOLINT
  StatusOr(T&& value) : value_(std::move(value)) {}                       // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok(). Checked in every build: reading the value of an error is
  // a bug of ours, and it aborts with the error rather than reading garbage.
  T& value() & {
    CheckOk();
    return *value_;
  }
  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void RejectOk() {
    if (status_.ok()) status_ = Internal("StatusOr constructed from an OK status");
  }
  void CheckOk() const {
    if (ok()) return;
    std::fprintf(stderr, "StatusOr::value() of an error: %s\n", status_.ToString().c_str());
    std::abort();
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace metaps

#define METAPS_CONCAT_INNER(a, b) a##b
#define METAPS_CONCAT(a, b) METAPS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not ok.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::metaps::Status _metaps_status = (expr);        \
    if (!_metaps_status.ok()) return _metaps_status; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(decl, expr) \
  ASSIGN_OR_RETURN_IMPL(METAPS_CONCAT(_metaps_statusor_, __LINE__), decl, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  decl = std::move(tmp).value()
