// Fused CPU operators for FM and DeepFM, written against MXNet's extension library
// (mxnet/include/mxnet/lib_api.h, shipped with the wheel): the FM part with the embedding
// lookups and their gradients (d2l_fm), DeepFM's dropout (d2l_dropout) and a row-wise lazy
// Adam update (d2l_rowwise_adam).
// Built and loaded by loader.py; models.py and sparse.py keep MXNet's own operators as the
// reference and the fallback.
//
// Indices outside [0, rows) are clipped, as MXNet's Embedding does. The forward loop over the
// batch runs on OpenMP threads when a batch is large enough; the inner loops are left to the
// compiler (-O3 -march=native vectorizes them for the host).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

typedef std::unordered_map<std::string, std::string> Attrs;
const int64_t kParallelWork = 1 << 16;   // elements from which a loop uses OpenMP threads

template <typename T>
inline int64_t clip_index(T v, int64_t rows) {
  int64_t i = static_cast<int64_t>(v);
  return i < 0 ? 0 : (i >= rows ? rows - 1 : i);
}

inline int64_t index_at(MXTensor& x, int64_t i, int64_t rows) {
  switch (x.dtype) {
    case kInt32: return clip_index(x.data<int32_t>()[i], rows);
    case kInt64: return clip_index(x.data<int64_t>()[i], rows);
    case kFloat64: return clip_index(x.data<double>()[i], rows);
    default: return clip_index(x.data<float>()[i], rows);
  }
}

// ---- d2l_fm: the embeddings, the FM part and their gradients in one operator ------------------
//
//   d2l_fm(x (B, F), V (N, K), W (N, 1), a (1, 1), c (1,))
//     -> fm (B, 1) = a * sum_f W[x_f] + c + 0.5 * sum_k ((sum_f V[x_f])^2 - sum_f V[x_f]^2)
//     [-> flat (B, F * K) = the rows V[x_f] side by side, when embeddings=1: the MLP's input]
// Backward, one pass over the batch: each gathered row's gradient
//   g_fm * (sum_f V[x_f] - V[x_f]) + g_flat
// is added into V's dense gradient at its row (a row repeated in the batch gets the sum), W's
// rows get g_fm * a, and a and c the sums over the batch.

int64_t num_embedding_outputs(const Attrs& attrs) {
  auto it = attrs.find("embeddings");
  return it != attrs.end() && it->second == "1" ? 1 : 0;
}

MXReturnValue fm_attrs(const Attrs& attrs, int* num_in, int* num_out) {
  *num_in = 5;
  *num_out = 1 + num_embedding_outputs(attrs);
  return MX_SUCCESS;
}

MXReturnValue fm_type(const Attrs&, std::vector<int>* in, std::vector<int>* out) {
  for (int i = 1; i < 5; ++i)
    if (in->at(i) != kFloat32) {
      MX_ERROR_MSG << "d2l_fm: float32 parameters only";
      return MX_FAIL;
    }
  for (auto& t : *out) t = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue fm_shape(const Attrs& attrs, std::vector<std::vector<unsigned int>>* in,
                       std::vector<std::vector<unsigned int>>* out) {
  const auto& x = in->at(0);
  const auto& v = in->at(1);
  if (x.size() != 2 || v.size() != 2 || in->at(2).size() != 2 || in->at(2)[1] != 1 ||
      in->at(2)[0] != v[0]) {
    MX_ERROR_MSG << "d2l_fm: expected x (batch, fields), V (rows, k), W (rows, 1)";
    return MX_FAIL;
  }
  out->at(0) = {x[0], 1};
  if (num_embedding_outputs(attrs)) out->at(1) = {x[0], x[1] * v[1]};
  return MX_SUCCESS;
}

MXReturnValue fm_forward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                         std::vector<MXTensor>* outputs, const OpResource&) {
  MXTensor& x = inputs->at(0);
  const int64_t batch = x.shape[0], fields = x.shape[1];
  const int64_t rows = inputs->at(1).shape[0], k = inputs->at(1).shape[1];
  const float* v = inputs->at(1).data<float>();
  const float* w = inputs->at(2).data<float>();
  const float a = inputs->at(3).data<float>()[0], c = inputs->at(4).data<float>()[0];
  float* fm = outputs->at(0).data<float>();
  float* flat = num_embedding_outputs(attrs) ? outputs->at(1).data<float>() : nullptr;
#pragma omp parallel if (batch * fields * k >= kParallelWork)
  {
    std::vector<float> sum(k), squares(k);
#pragma omp for
    for (int64_t b = 0; b < batch; ++b) {
      std::fill(sum.begin(), sum.end(), 0.f);
      std::fill(squares.begin(), squares.end(), 0.f);
      float first = 0.f;
      for (int64_t f = 0; f < fields; ++f) {
        const int64_t r = index_at(x, b * fields + f, rows);
        const float* row = v + r * k;
        first += w[r];
        for (int64_t j = 0; j < k; ++j) {
          sum[j] += row[j];
          squares[j] += row[j] * row[j];
        }
        if (flat) std::memcpy(flat + (b * fields + f) * k, row, k * sizeof(float));
      }
      float total = 0.f;
      for (int64_t j = 0; j < k; ++j) total += sum[j] * sum[j] - squares[j];
      fm[b] = a * first + c + 0.5f * total;
    }
  }
  return MX_SUCCESS;
}

// inputs: g_fm, [g_flat,] x, V, W, a, c (then the outputs); outputs: dx (zero), dV, dW, da, dc
MXReturnValue fm_backward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                          std::vector<MXTensor>* outputs, const OpResource&) {
  const int64_t extra = num_embedding_outputs(attrs);
  const float* g = inputs->at(0).data<float>();
  const float* g_flat = extra ? inputs->at(1).data<float>() : nullptr;
  MXTensor& x = inputs->at(1 + extra);
  const int64_t batch = x.shape[0], fields = x.shape[1];
  MXTensor& vt = inputs->at(2 + extra);
  const int64_t rows = vt.shape[0], k = vt.shape[1];
  const float* v = vt.data<float>();
  const float* w = inputs->at(3 + extra).data<float>();
  const float a = inputs->at(4 + extra).data<float>()[0];
  MXTensor& dx = outputs->at(0);
  std::memset(dx.data<char>(), 0, dx.size() * (dx.dtype == kInt64 || dx.dtype == kFloat64 ? 8 : 4));
  float* dv = outputs->at(1).data<float>();
  float* dw = outputs->at(2).data<float>();
  std::memset(dv, 0, rows * k * sizeof(float));
  std::memset(dw, 0, rows * sizeof(float));
  std::vector<float> sum(k);
  std::vector<int64_t> idx(fields);
  double da = 0, dc = 0;
  for (int64_t b = 0; b < batch; ++b) {
    std::fill(sum.begin(), sum.end(), 0.f);
    float first = 0.f;
    for (int64_t f = 0; f < fields; ++f) {
      idx[f] = index_at(x, b * fields + f, rows);
      const float* row = v + idx[f] * k;
      first += w[idx[f]];
      for (int64_t j = 0; j < k; ++j) sum[j] += row[j];
    }
    const float gb = g[b];
    da += static_cast<double>(gb) * first;
    dc += gb;
    for (int64_t f = 0; f < fields; ++f) {
      const float* row = v + idx[f] * k;
      float* dst = dv + idx[f] * k;
      if (g_flat) {
        const float* gf = g_flat + (b * fields + f) * k;
        for (int64_t j = 0; j < k; ++j) dst[j] += gb * (sum[j] - row[j]) + gf[j];
      } else {
        for (int64_t j = 0; j < k; ++j) dst[j] += gb * (sum[j] - row[j]);
      }
      dw[idx[f]] += gb * a;
    }
  }
  outputs->at(3).data<float>()[0] = static_cast<float>(da);
  outputs->at(4).data<float>()[0] = static_cast<float>(dc);
  return MX_SUCCESS;
}


// ---- d2l_rowwise_adam: lazy Adam on the rows a batch touched, each row read and written once --
//
//   d2l_rowwise_adam(weight (N, K), mean (N, K), var (N, K), grad (n, K), rows (n,))
// updates, in place, rows[i] of weight, mean and var from grad[i], as MXNet's adam_update does
// for a row_sparse gradient (lazy_update): g = grad * rescale_grad + wd * w (clipped to
// +-clip_gradient if >= 0); m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
// w -= lr m / (sqrt(v) + epsilon). rows must be distinct (sparse.LocalTables' are). Its output
// is a placeholder (1,): the three tables are its mutated inputs.

float attr(const Attrs& attrs, const char* name, float fallback) {
  auto it = attrs.find(name);
  return it == attrs.end() ? fallback : std::stof(it->second);
}

MXReturnValue adam_attrs(const Attrs&, int* num_in, int* num_out) {
  *num_in = 5;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue adam_type(const Attrs&, std::vector<int>* in, std::vector<int>* out) {
  for (int i = 0; i < 4; ++i)
    if (in->at(i) != kFloat32) {
      MX_ERROR_MSG << "d2l_rowwise_adam: float32 tables only";
      return MX_FAIL;
    }
  out->at(0) = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue adam_shape(const Attrs&, std::vector<std::vector<unsigned int>>* in,
                         std::vector<std::vector<unsigned int>>* out) {
  out->at(0) = {1};
  return MX_SUCCESS;
}

MXReturnValue adam_mutates(const Attrs&, std::vector<int>* indices) {
  *indices = {0, 1, 2};
  return MX_SUCCESS;
}

MXReturnValue adam_forward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                           std::vector<MXTensor>* outputs, const OpResource&) {
  float* w = inputs->at(0).data<float>();
  float* m = inputs->at(1).data<float>();
  float* v = inputs->at(2).data<float>();
  const float* g = inputs->at(3).data<float>();
  MXTensor& rows = inputs->at(4);
  const int64_t num_rows = inputs->at(0).shape[0], k = inputs->at(0).shape[1];
  const int64_t n = rows.size();
  const float lr = attr(attrs, "lr", 0.001f), wd = attr(attrs, "wd", 0.f);
  const float beta1 = attr(attrs, "beta1", 0.9f), beta2 = attr(attrs, "beta2", 0.999f);
  const float eps = attr(attrs, "epsilon", 1e-8f), rescale = attr(attrs, "rescale_grad", 1.f);
  const float clip = attr(attrs, "clip_gradient", -1.f);
#pragma omp parallel for if (n * k >= kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = index_at(rows, i, num_rows);
    float* wr = w + r * k;
    float* mr = m + r * k;
    float* vr = v + r * k;
    const float* gr = g + i * k;
    for (int64_t j = 0; j < k; ++j) {
      float gj = gr[j] * rescale + wd * wr[j];
      if (clip >= 0) gj = std::max(-clip, std::min(clip, gj));
      mr[j] = beta1 * mr[j] + (1.f - beta1) * gj;
      vr[j] = beta2 * vr[j] + (1.f - beta2) * gj * gj;
      wr[j] -= lr * mr[j] / (std::sqrt(vr[j]) + eps);
    }
  }
  outputs->at(0).data<float>()[0] = 0.f;
  return MX_SUCCESS;
}


// ---- d2l_dropout: DeepFM's dropout with a fast generator -----------------------------------
//
//   d2l_dropout(x, probe (1,)) -> (x * mask, mask), mask 0 or 1 / (1 - p) per element
// probe is MXNet's own dropout of a one (p = 0.5): 1 outside training, 0 or 2 in training, so
// the operator drops only when MXNet's Dropout would (extension operators are not told). The
// mask comes from splitmix64 seeded by one draw of MXNet's generator (mx.random.seed applies).

inline uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

MXReturnValue dropout_attrs(const Attrs&, int* num_in, int* num_out) {
  *num_in = 2;
  *num_out = 2;
  return MX_SUCCESS;
}

MXReturnValue dropout_type(const Attrs&, std::vector<int>* in, std::vector<int>* out) {
  if (in->at(0) != kFloat32 || in->at(1) != kFloat32) {
    MX_ERROR_MSG << "d2l_dropout: float32 only";
    return MX_FAIL;
  }
  out->at(0) = out->at(1) = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue dropout_shape(const Attrs&, std::vector<std::vector<unsigned int>>* in,
                            std::vector<std::vector<unsigned int>>* out) {
  out->at(0) = out->at(1) = in->at(0);
  return MX_SUCCESS;
}

MXReturnValue dropout_forward(const Attrs& attrs, std::vector<MXTensor>* inputs,
                              std::vector<MXTensor>* outputs, const OpResource& res) {
  const float* x = inputs->at(0).data<float>();
  const bool training = inputs->at(1).data<float>()[0] != 1.f;
  float* y = outputs->at(0).data<float>();
  float* mask = outputs->at(1).data<float>();
  const int64_t n = inputs->at(0).size();
  const float p = attr(attrs, "p", 0.f);
  if (!training || p <= 0.f) {
    std::memcpy(y, x, n * sizeof(float));
    std::fill(mask, mask + n, 1.f);
    return MX_SUCCESS;
  }
  const float scale = 1.f / (1.f - p);
  const uint64_t threshold = static_cast<uint64_t>(static_cast<double>(p) * 4294967296.0);
  uint64_t state = (*res.get_cpu_rand_states())();
  state = (state << 32) ^ (*res.get_cpu_rand_states())();
  for (int64_t i = 0; i < n; i += 2) {          // two 32-bit draws from each 64-bit number
    const uint64_t r = splitmix64(&state);
    mask[i] = (r & 0xFFFFFFFFULL) < threshold ? 0.f : scale;
    if (i + 1 < n) mask[i + 1] = (r >> 32) < threshold ? 0.f : scale;
  }
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * mask[i];
  return MX_SUCCESS;
}

// inputs: g_y, g_mask, x, probe, y, mask; outputs: dx = g_y * mask, dprobe = 0
MXReturnValue dropout_backward(const Attrs&, std::vector<MXTensor>* inputs,
                               std::vector<MXTensor>* outputs, const OpResource&) {
  const float* g = inputs->at(0).data<float>();
  const float* mask = inputs->at(5).data<float>();
  float* dx = outputs->at(0).data<float>();
  const int64_t n = outputs->at(0).size();
  for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * mask[i];
  outputs->at(1).data<float>()[0] = 0.f;
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(d2l_fm)
.setParseAttrs(fm_attrs)
.setInferType(fm_type)
.setInferShape(fm_shape)
.setForward(fm_forward, "cpu")
.setBackward(fm_backward, "cpu");

REGISTER_OP(d2l_rowwise_adam)
.setParseAttrs(adam_attrs)
.setInferType(adam_type)
.setInferShape(adam_shape)
.setMutateInputs(adam_mutates)
.setForward(adam_forward, "cpu");

REGISTER_OP(d2l_dropout)
.setParseAttrs(dropout_attrs)
.setInferType(dropout_type)
.setInferShape(dropout_shape)
.setForward(dropout_forward, "cpu")
.setBackward(dropout_backward, "cpu");

MXReturnValue initialize(int version) {
  return version >= 10900 ? MX_SUCCESS : MX_FAIL;   // MXNet 1.9 and later
}
