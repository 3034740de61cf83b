// SPDX-License-Identifier: MIT
// 2-D FFT of real images with kissfft<double>: the row pass transforms two real rows at once as
// one complex row, the column pass transforms only columns 0..cols/2 (gathered in blocks, so the
// strided reads stay in cache) and fills the rest from Hermitian symmetry.
#include "tessera/arrayops/fft.h"

#include <cmath>
#include <complex>
#include <kissfft.hh>
#include <numbers>
#include <vector>

#include "tessera/arrayops/arrayops_internal.h"

namespace tessera::arrayops {
namespace {

using Complex = std::complex<double>;

/// A 1-D complex FFT of a fixed length (length 1 is the identity, which kissfft does not plan).
class Fft1d {
 public:
  explicit Fft1d(int64_t n) : n_(n), plan_(static_cast<size_t>(std::max<int64_t>(n, 2)), false) {}
  /// Transform `in` into `out` (distinct buffers of n elements).
  void Transform(const Complex* in, Complex* out) const {
    if (n_ == 1) {
      out[0] = in[0];
      return;
    }
    plan_.transform(in, out);
  }

 private:
  int64_t n_;
  kissfft<double> plan_;
};

/// The 2-D FFT of real rows x cols images, with buffers reused from image to image.
class RealFft2d {
 public:
  RealFft2d(int64_t rows, int64_t cols)
      : rows_(rows),
        cols_(cols),
        row_fft_(cols),
        column_fft_(rows),
        spectrum_(static_cast<size_t>(rows * cols)),
        line_in_(static_cast<size_t>(std::max(rows, cols))),
        line_out_(line_in_.size()),
        block_(static_cast<size_t>(rows * kBlock)) {}

  /// Transform one image (rows x cols, row-major); spectrum() then holds F[u][v] row-major.
  void Forward(const double* image) {
    RowPass(image);
    ColumnPass();
    MirrorColumns();
  }
  const Complex* spectrum() const { return spectrum_.data(); }

 private:
  static constexpr int64_t kBlock = 8;  // columns gathered per column-pass block

  /// FFT every row; two real rows a, b travel as one complex row a + ib.
  void RowPass(const double* image) {
    for (int64_t r = 0; r < rows_; r += 2) {
      const bool pair = r + 1 < rows_;
      const double* a = image + r * cols_;
      const double* b = pair ? a + cols_ : nullptr;
      for (int64_t c = 0; c < cols_; ++c) line_in_[c] = {a[c], pair ? b[c] : 0.0};
      row_fft_.Transform(line_in_.data(), line_out_.data());
      Complex* out_a = &spectrum_[r * cols_];
      Complex* out_b = pair ? out_a + cols_ : nullptr;
      for (int64_t k = 0; k < cols_; ++k) {
        const Complex z = line_out_[k];
        const Complex z_mirror = std::conj(line_out_[k == 0 ? 0 : cols_ - k]);
        out_a[k] = 0.5 * (z + z_mirror);
        if (pair) out_b[k] = Complex(0, -0.5) * (z - z_mirror);
      }
    }
  }

  /// FFT columns 0..cols/2, kBlock columns at a time.
  void ColumnPass() {
    const int64_t needed = cols_ / 2 + 1;
    for (int64_t v0 = 0; v0 < needed; v0 += kBlock) {
      const int64_t width = std::min(kBlock, needed - v0);
      for (int64_t r = 0; r < rows_; ++r) {
        for (int64_t b = 0; b < width; ++b) block_[b * rows_ + r] = spectrum_[r * cols_ + v0 + b];
      }
      for (int64_t b = 0; b < width; ++b) {
        column_fft_.Transform(&block_[b * rows_], line_out_.data());
        std::copy(line_out_.begin(), line_out_.begin() + rows_, block_.begin() + b * rows_);
      }
      for (int64_t r = 0; r < rows_; ++r) {
        for (int64_t b = 0; b < width; ++b) spectrum_[r * cols_ + v0 + b] = block_[b * rows_ + r];
      }
    }
  }

  /// Fill columns above cols/2 from F[u][v] = conj(F[-u][-v]) (the input is real).
  void MirrorColumns() {
    for (int64_t u = 0; u < rows_; ++u) {
      const Complex* mirror_row = &spectrum_[((rows_ - u) % rows_) * cols_];
      Complex* row = &spectrum_[u * cols_];
      for (int64_t v = cols_ / 2 + 1; v < cols_; ++v) row[v] = std::conj(mirror_row[cols_ - v]);
    }
  }

  int64_t rows_;
  int64_t cols_;
  Fft1d row_fft_;
  Fft1d column_fft_;
  std::vector<Complex> spectrum_;
  std::vector<Complex> line_in_;
  std::vector<Complex> line_out_;
  std::vector<Complex> block_;
};

/// Return the source index of each output index along an axis of length n (fftshift or not).
std::vector<int64_t> ShiftTable(int64_t n, bool shift) {
  std::vector<int64_t> table(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) table[i] = shift ? (i + n - n / 2) % n : i;
  return table;
}

/// Run `value(F[u][v])` over every image of `input` (float64) into a new float64 array,
/// placing frequencies as the shift tables say. `prepare(image_index, buffer)` fills the real
/// image handed to the FFT.
template <class Prepare, class Value>
NdArray TransformStack(const NdArray& input, bool shift, Prepare prepare, Value value) {
  NdArray out(DType::kFloat64, input.shape());
  if (out.size() == 0) return out;
  const int64_t rows = input.shape()[input.shape().size() - 2];
  const int64_t cols = input.shape().back();
  RealFft2d fft(rows, cols);
  std::vector<double> image(static_cast<size_t>(rows * cols));
  const std::vector<int64_t> row_source = ShiftTable(rows, shift);
  const std::vector<int64_t> col_source = ShiftTable(cols, shift);
  double* dst = out.flat<double>().data();
  for (int64_t i = 0; i < internal::StackCount(input); ++i) {
    prepare(i, image.data());
    fft.Forward(image.data());
    for (int64_t r = 0; r < rows; ++r) {
      const Complex* src_row = fft.spectrum() + row_source[r] * cols;
      double* dst_row = dst + (i * rows + r) * cols;
      for (int64_t c = 0; c < cols; ++c) dst_row[c] = value(src_row[col_source[c]]);
    }
  }
  return out;
}

/// Return np.hanning(n): 0.5 - 0.5 cos(2 pi i / (n - 1)), and [1] for n = 1.
std::vector<double> Hanning(int64_t n) {
  std::vector<double> window(static_cast<size_t>(n), 1.0);
  if (n < 2) return window;
  for (int64_t i = 0; i < n; ++i) {
    window[i] = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(i) /
                                     static_cast<double>(n - 1));
  }
  return window;
}

/// Return the mean of the non-NaN values (0 when there are none).
double NanMean(const double* values, int64_t n) {
  double sum = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(values[i])) continue;
    sum += values[i];
    ++count;
  }
  return count == 0 ? 0.0 : sum / static_cast<double>(count);
}

}  // namespace

NdArray FftMagnitude(const NdArray& image, bool shift) {
  internal::RequireRank(image, 2, "image");
  const NdArray input = internal::ToFloat64(image, "image");
  const int64_t pixels = input.shape()[input.shape().size() - 2] * input.shape().back();
  const double* src = input.size() > 0 ? input.flat<double>().data() : nullptr;
  return TransformStack(
      input, shift,
      [&](int64_t i, double* buffer) {
        std::copy(src + i * pixels, src + (i + 1) * pixels, buffer);
      },
      // sqrt(norm) rather than std::abs: hypot's overflow care costs more than the FFT here.
      [](Complex f) { return std::sqrt(std::norm(f)); });
}

NdArray Diffractogram(const NdArray& image, bool hann_window, bool log_scale) {
  internal::RequireRank(image, 2, "image");
  const NdArray input = internal::ToFloat64(image, "image");
  const int64_t rows = input.shape()[input.shape().size() - 2];
  const int64_t cols = input.shape().back();
  const std::vector<double> window_y = hann_window ? Hanning(rows) : std::vector<double>(rows, 1.0);
  const std::vector<double> window_x = hann_window ? Hanning(cols) : std::vector<double>(cols, 1.0);
  const double* src = input.size() > 0 ? input.flat<double>().data() : nullptr;
  const auto prepare = [&](int64_t i, double* buffer) {
    const double* pixels = src + i * rows * cols;
    const double mean = NanMean(pixels, rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const double v = pixels[r * cols + c];
        buffer[r * cols + c] = std::isnan(v) ? 0.0 : (v - mean) * window_y[r] * window_x[c];
      }
    }
  };
  if (log_scale) {
    return TransformStack(input, true, prepare, [](Complex f) { return std::log1p(std::norm(f)); });
  }
  return TransformStack(input, true, prepare, [](Complex f) { return std::norm(f); });
}

}  // namespace tessera::arrayops
