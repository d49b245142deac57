#include "worker/data/datagen_util.h"

#include "worker/data/zipf.h"

namespace metaps {
namespace datagen {

double Uniform(uint64_t seed, uint32_t table, uint64_t key, uint64_t index) {
  return StreamUniform53(RowStreamSeed(seed, table, key), index);
}

double Normal(uint64_t seed, uint32_t table, uint64_t key, uint64_t index) {
  // Box-Muller on two 53-bit uniforms, in double (BitsToNormal rounds to float).
  const uint64_t stream = RowStreamSeed(seed, table, key);
  const double u1 = StreamUniform53(stream, 2 * index);
  const double u2 = StreamUniform53(stream, 2 * index + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

double SolveBiasForRate(const std::vector<double>& z, double rate) {
  double lo = -30, hi = 30;
  for (int iter = 0; iter < 80; ++iter) {
    const double mid = 0.5 * (lo + hi);
    double sum = 0;
    for (double x : z) sum += Sigmoid(mid + x);
    (sum / static_cast<double>(z.size()) < rate ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

void MeanStd(const std::vector<double>& x, double* mean, double* std) {
  double sum = 0, sum_sq = 0;
  for (double v : x) sum += v;
  *mean = x.empty() ? 0 : sum / static_cast<double>(x.size());
  for (double v : x) sum_sq += (v - *mean) * (v - *mean);
  const double var = x.size() < 2 ? 0 : sum_sq / static_cast<double>(x.size() - 1);
  *std = var > 1e-24 ? std::sqrt(var) : 1.0;
}

StatusOr<std::unique_ptr<BufferedFile>> BufferedFile::Open(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(path));
  return std::unique_ptr<BufferedFile>(new BufferedFile(std::move(file)));
}

Status BufferedFile::Flush() {
  RETURN_IF_ERROR(file_->Append(buffer_));
  buffer_.clear();
  return Status::Ok();
}

Status BufferedFile::Close() {
  RETURN_IF_ERROR(Flush());
  return file_->Close();
}

Status SplitFiles::Open(Env* env, const std::string& dir, const std::string& suffix,
                        const std::string& header, std::vector<std::string>* paths) {
  for (int s = 0; s < kNumDataSplits; ++s) {
    const std::string path = JoinPath(dir, DataSplitName(static_cast<DataSplit>(s)) + suffix);
    ASSIGN_OR_RETURN(files_[s], BufferedFile::Open(env, path));
    files_[s]->buffer() += header;
    paths->push_back(path);
  }
  return Status::Ok();
}

Status SplitFiles::Close() {
  for (auto& file : files_) RETURN_IF_ERROR(file->Close());
  return Status::Ok();
}

void AppendUint(uint64_t value, std::string* out) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out->push_back(digits[--n]);
}

void AppendInt(int64_t value, std::string* out) {
  if (value < 0) {
    out->push_back('-');
    AppendUint(0 - static_cast<uint64_t>(value), out);
  } else {
    AppendUint(static_cast<uint64_t>(value), out);
  }
}

void AppendHex32(uint32_t value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 28; shift >= 0; shift -= 4) out->push_back(kHex[(value >> shift) & 0xf]);
}

void AppendHalfStep(double value, std::string* out) {
  const int64_t halves = static_cast<int64_t>(std::lround(value * 2));
  AppendInt(halves / 2, out);
  *out += halves % 2 != 0 ? ".5" : ".0";
}

Status WriteOracle(Env* env, const std::string& dir, DatagenResult* result) {
  const std::string path = JoinPath(dir, "oracle.json");
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(path));
  RETURN_IF_ERROR(file->Append(result->oracle_json + "\n"));
  RETURN_IF_ERROR(file->Close());
  result->files.push_back(path);
  return Status::Ok();
}

}  // namespace datagen
}  // namespace metaps
