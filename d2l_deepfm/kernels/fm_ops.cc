// Fused CPU operators for FM and DeepFM, written against MXNet's extension library
// (mxnet/include/mxnet/lib_api.h, shipped with the wheel). Built and loaded by loader.py;
// models.py keeps the chapter's formulas as the reference and the fallback.
//
//   d2l_embed(x (B, F) indices, weight (V, W))  -> (B, F, W)   the rows of the batch
//       backward: the weight's dense gradient, each row the sum over its occurrences
//   d2l_field_sum(e (B, F, W))                  -> (B, W)      sum over fields
//   d2l_fm_pairwise(e (B, F, K))                -> (B, 1)      0.5 * sum_k ((sum_f e)^2 - sum_f e^2)
//
// Indices outside [0, V) are clipped, as MXNet's Embedding does. Loops over the batch run on
// OpenMP threads when a batch is large enough; the inner loops are left to the compiler
// (-O3 -march=native vectorizes them for the host).
#include <algorithm>
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

MXReturnValue one_in_one_out(const Attrs&, int* num_in, int* num_out) {
  *num_in = 1;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue two_in_one_out(const Attrs&, int* num_in, int* num_out) {
  *num_in = 2;
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue float_input(const Attrs&, std::vector<int>* in, std::vector<int>* out) {
  if (in->at(0) != kFloat32) {
    MX_ERROR_MSG << "d2l_deepfm kernels: float32 inputs only";
    return MX_FAIL;
  }
  out->at(0) = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue three_dims(const std::vector<std::vector<unsigned int>>* in) {
  if (in->at(0).size() != 3) {
    MX_ERROR_MSG << "d2l_deepfm kernels: expected a (batch, fields, width) input";
    return MX_FAIL;
  }
  return MX_SUCCESS;
}

// ---- d2l_embed ------------------------------------------------------------------------------

MXReturnValue embed_type(const Attrs&, std::vector<int>* in, std::vector<int>* out) {
  if (in->at(1) != kFloat32) {
    MX_ERROR_MSG << "d2l_embed: float32 weight only";
    return MX_FAIL;
  }
  out->at(0) = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue embed_shape(const Attrs&, std::vector<std::vector<unsigned int>>* in,
                          std::vector<std::vector<unsigned int>>* out) {
  if (in->at(1).size() != 2) {
    MX_ERROR_MSG << "d2l_embed: expected a (rows, width) weight";
    return MX_FAIL;
  }
  out->at(0) = in->at(0);
  out->at(0).push_back(in->at(1)[1]);
  return MX_SUCCESS;
}

MXReturnValue embed_forward(const Attrs&, std::vector<MXTensor>* inputs,
                            std::vector<MXTensor>* outputs, const OpResource&) {
  MXTensor& x = inputs->at(0);
  const float* w = inputs->at(1).data<float>();
  const int64_t rows = inputs->at(1).shape[0], width = inputs->at(1).shape[1];
  const int64_t n = x.size();
  float* out = outputs->at(0).data<float>();
#pragma omp parallel for if (n * width >= kParallelWork)
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out + i * width, w + index_at(x, i, rows) * width, width * sizeof(float));
  }
  return MX_SUCCESS;
}

// inputs: out_grad (B, F, W), x, weight; outputs: x's gradient (zero), weight's gradient
MXReturnValue embed_backward(const Attrs&, std::vector<MXTensor>* inputs,
                             std::vector<MXTensor>* outputs, const OpResource&) {
  const float* g = inputs->at(0).data<float>();
  MXTensor& x = inputs->at(1);
  const int64_t rows = inputs->at(2).shape[0], width = inputs->at(2).shape[1];
  const int64_t n = x.size();
  MXTensor& dx = outputs->at(0);
  std::memset(dx.data<char>(), 0, dx.size() * (dx.dtype == kInt64 || dx.dtype == kFloat64 ? 8 : 4));
  float* dw = outputs->at(1).data<float>();
  std::memset(dw, 0, rows * width * sizeof(float));
  // one pass in the batch's order: a row repeated in the batch gets the sum of its gradients
  for (int64_t i = 0; i < n; ++i) {
    float* dst = dw + index_at(x, i, rows) * width;
    const float* src = g + i * width;
    for (int64_t k = 0; k < width; ++k) dst[k] += src[k];
  }
  return MX_SUCCESS;
}

// ---- d2l_field_sum --------------------------------------------------------------------------

MXReturnValue field_sum_shape(const Attrs&, std::vector<std::vector<unsigned int>>* in,
                              std::vector<std::vector<unsigned int>>* out) {
  if (three_dims(in) != MX_SUCCESS) return MX_FAIL;
  out->at(0) = {in->at(0)[0], in->at(0)[2]};
  return MX_SUCCESS;
}

MXReturnValue field_sum_forward(const Attrs&, std::vector<MXTensor>* inputs,
                                std::vector<MXTensor>* outputs, const OpResource&) {
  MXTensor& e = inputs->at(0);
  const int64_t batch = e.shape[0], fields = e.shape[1], width = e.shape[2];
  const float* src = e.data<float>();
  float* out = outputs->at(0).data<float>();
#pragma omp parallel for if (batch * fields * width >= kParallelWork)
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = src + b * fields * width;
    float* o = out + b * width;
    for (int64_t k = 0; k < width; ++k) o[k] = row[k];
    for (int64_t f = 1; f < fields; ++f)
      for (int64_t k = 0; k < width; ++k) o[k] += row[f * width + k];
  }
  return MX_SUCCESS;
}

// inputs: out_grad (B, W), e; outputs: e's gradient (each field gets the sum's gradient)
MXReturnValue field_sum_backward(const Attrs&, std::vector<MXTensor>* inputs,
                                 std::vector<MXTensor>* outputs, const OpResource&) {
  const float* g = inputs->at(0).data<float>();
  MXTensor& e = inputs->at(1);
  const int64_t batch = e.shape[0], fields = e.shape[1], width = e.shape[2];
  float* de = outputs->at(0).data<float>();
#pragma omp parallel for if (batch * fields * width >= kParallelWork)
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < fields; ++f)
      std::memcpy(de + (b * fields + f) * width, g + b * width, width * sizeof(float));
  return MX_SUCCESS;
}

// ---- d2l_fm_pairwise ------------------------------------------------------------------------

MXReturnValue pairwise_shape(const Attrs&, std::vector<std::vector<unsigned int>>* in,
                             std::vector<std::vector<unsigned int>>* out) {
  if (three_dims(in) != MX_SUCCESS) return MX_FAIL;
  out->at(0) = {in->at(0)[0], 1};
  return MX_SUCCESS;
}

MXReturnValue pairwise_forward(const Attrs&, std::vector<MXTensor>* inputs,
                               std::vector<MXTensor>* outputs, const OpResource&) {
  MXTensor& e = inputs->at(0);
  const int64_t batch = e.shape[0], fields = e.shape[1], k = e.shape[2];
  const float* src = e.data<float>();
  float* out = outputs->at(0).data<float>();
#pragma omp parallel if (batch * fields * k >= kParallelWork)
  {
    std::vector<float> sum(k), squares(k);
#pragma omp for
    for (int64_t b = 0; b < batch; ++b) {
      const float* row = src + b * fields * k;
      std::fill(sum.begin(), sum.end(), 0.f);
      std::fill(squares.begin(), squares.end(), 0.f);
      for (int64_t f = 0; f < fields; ++f)
        for (int64_t j = 0; j < k; ++j) {
          const float v = row[f * k + j];
          sum[j] += v;
          squares[j] += v * v;
        }
      float total = 0.f;
      for (int64_t j = 0; j < k; ++j) total += sum[j] * sum[j] - squares[j];
      out[b] = 0.5f * total;
    }
  }
  return MX_SUCCESS;
}

// inputs: out_grad (B, 1), e; outputs: e's gradient g_b * (sum_f e_b - e_bf)
MXReturnValue pairwise_backward(const Attrs&, std::vector<MXTensor>* inputs,
                                std::vector<MXTensor>* outputs, const OpResource&) {
  const float* g = inputs->at(0).data<float>();
  MXTensor& e = inputs->at(1);
  const int64_t batch = e.shape[0], fields = e.shape[1], k = e.shape[2];
  const float* src = e.data<float>();
  float* de = outputs->at(0).data<float>();
#pragma omp parallel if (batch * fields * k >= kParallelWork)
  {
    std::vector<float> sum(k);
#pragma omp for
    for (int64_t b = 0; b < batch; ++b) {
      const float* row = src + b * fields * k;
      float* drow = de + b * fields * k;
      std::fill(sum.begin(), sum.end(), 0.f);
      for (int64_t f = 0; f < fields; ++f)
        for (int64_t j = 0; j < k; ++j) sum[j] += row[f * k + j];
      const float gb = g[b];
      for (int64_t f = 0; f < fields; ++f)
        for (int64_t j = 0; j < k; ++j) drow[f * k + j] = gb * (sum[j] - row[f * k + j]);
    }
  }
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(d2l_embed)
.setParseAttrs(two_in_one_out)
.setInferType(embed_type)
.setInferShape(embed_shape)
.setForward(embed_forward, "cpu")
.setBackward(embed_backward, "cpu");

REGISTER_OP(d2l_field_sum)
.setParseAttrs(one_in_one_out)
.setInferType(float_input)
.setInferShape(field_sum_shape)
.setForward(field_sum_forward, "cpu")
.setBackward(field_sum_backward, "cpu");

REGISTER_OP(d2l_fm_pairwise)
.setParseAttrs(one_in_one_out)
.setInferType(float_input)
.setInferShape(pairwise_shape)
.setForward(pairwise_forward, "cpu")
.setBackward(pairwise_backward, "cpu");

MXReturnValue initialize(int version) {
  return version >= 10900 ? MX_SUCCESS : MX_FAIL;   // MXNet 1.9 and later
}
