// The row driver: validates labels and computes the mean's denominator in one pass over the
// targets, then runs the per-ISA row kernel over fixed blocks of rows, gathering rows whose class
// axis is strided into a contiguous scratch row, and reduces per-block sums in block order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "cpu/row_index.h"
#include "cpu/strided.h"
#include "fastloss/config.h"

namespace fastloss::cpu {
namespace {

inline const char* at(const View* v, int64_t off) {
  return static_cast<const char*>(v->data) + off;
}

template <class T>
std::vector<T> contiguous_copy(const View* v) {
  std::vector<T> out;
  if (!v) return out;
  out.resize(v->shape[0]);
  for (int64_t j = 0; j < v->shape[0]; ++j)
    out[j] = read_as<T>(at(v, j * v->strides[0]), v->dtype);
  return out;
}

template <class T>
LossResult run(const LossRequest& req) {
  const KernelInfo& info = kernel_info(req.kernel);
  const View* x = req.x();
  const View* target = req.target();
  const View* class_weight_view = req.aux[0];
  const View* label_aux = info.aux == AuxKind::per_class ? req.aux[1] : nullptr;
  View* grad_out = req.grads[0];
  const int outer_ndim = x->ndim - 1;
  const int64_t* outer_shape = x->shape;
  const int64_t classes = x->shape[x->ndim - 1];
  const int64_t class_stride = x->strides[x->ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < outer_ndim; ++d) rows *= outer_shape[d];
  const bool sparse = info.target == TargetKind::sparse;
  // Class indices with the costs Delta(t, .): a row of input 2 per row, or a (C, C) table
  // (aux 1) indexed by the label, or neither (0/1 costs).
  const bool costed = info.target == TargetKind::sparse_cost;
  const View* cost_rows = costed ? req.inputs[2] : nullptr;
  const View* cost_table = costed ? req.aux[1] : nullptr;
  const bool dense = info.target == TargetKind::dense;
  // Index lists: each target row lists class indices up to its first -1 (losses.def).
  const bool index_list = info.target == TargetKind::index_list;
  const int64_t target_class_stride = info.target_per_class() ? target->strides[x->ndim - 1] : 0;
  // Target kind logits: the target is a second logits row with a gradient of its own, and
  // class indices may come as input 2 (checked and ignored as sparse targets are).
  const bool pair = info.target == TargetKind::logits;
  const View* labels = sparse || costed ? target : pair ? req.inputs[2] : nullptr;
  const bool has_labels = labels != nullptr;
  View* grad_y_out = pair ? req.grads[1] : nullptr;
  // Listwise ranking: relevance labels read as dense targets are, an optional mask (input 2)
  // whose False entries are padding; with relevance_order, each list's order by relevance.
  const bool ranked = info.ranks_lists();
  const bool ordered = info.target == TargetKind::relevance_order;
  const View* mask = ranked ? req.inputs[2] : nullptr;
  // Per-class weights enter the row kernel, the mean's denominator, or only a per-row factor.
  const bool weights_in_row = info.class_weight == ClassWeight::in_row ||
                              info.class_weight == ClassWeight::in_row_and_mean;
  const bool weights_in_mean = info.class_weight == ClassWeight::in_row_and_mean;
  const bool weights_as_factor = info.class_weight == ClassWeight::factor;
  const bool wants_grad = grad_out != nullptr;
  const RowIndex x_row_at(x, outer_shape, outer_ndim), target_row_at(target, outer_shape, outer_ndim),
      weight_row_at(req.weight, outer_shape, outer_ndim),
      upstream_row_at(req.upstream, outer_shape, outer_ndim),
      grad_row_at(grad_out, outer_shape, outer_ndim), loss_row_at(req.loss_out, outer_shape, outer_ndim),
      labels_row_at(labels, outer_shape, outer_ndim), grad_y_row_at(grad_y_out, outer_shape, outer_ndim),
      mask_row_at(mask, outer_shape, outer_ndim), cost_row_at(cost_rows, outer_shape, outer_ndim);
  const int64_t mask_stride = mask ? mask->strides[x->ndim - 1] : 0;
  // Whether item j of list r is valid (read as bytes: a bool that is not 0 or 1 is still true).
  auto valid_item = [&](int64_t r, int64_t j) {
    return !mask || static_cast<const uint8_t*>(mask->data)[mask_row_at(r) + j * mask_stride] != 0;
  };
  auto any_valid_item = [&](int64_t r) {
    for (int64_t j = 0; j < classes; ++j)
      if (valid_item(r, j)) return true;
    return false;
  };

  std::vector<T> class_weight = contiguous_copy<T>(class_weight_view);
  double class_weight_sum = double(classes);
  if (class_weight_view) {
    CompensatedSum s;
    for (T c : class_weight) s.add(double(c));
    class_weight_sum = s.value();
  }
  std::vector<double> label_values = contiguous_copy<double>(label_aux);

  // Labels of int64 in one strided run, rows without weights: the common layout, which the
  // pass over the targets and the short-row tiles read without per-row dispatch.
  const bool plain_labels = has_labels && labels->dtype == DType::i64 && labels_row_at.linear() &&
                            !req.weight && !req.upstream && !label_aux &&
                            !(class_weight_view && (weights_as_factor || weights_in_mean));
  auto plain_label = [&](int64_t r) {
    int64_t label;
    std::memcpy(&label, static_cast<const char*>(labels->data) + r * labels_row_at.stride(),
                sizeof label);
    return label;
  };

  // One pass over the targets: labels in range, and the denominator of the mean.
  LossResult result;
  CompensatedSum denominator;
  if (plain_labels) {
    // Unit weights: the count is the compensated sum's value exactly (below 2^53).
    int64_t counted = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t label = plain_label(r);
      if (req.has_ignore_index && label == req.ignore_index) continue;
      if (label < 0 || label >= classes) {
        result.bad_index = r;
        result.bad_label = label;
        return result;
      }
      ++counted;
    }
    denominator.add(double(counted));
  }
  for (int64_t r = 0; r < rows && !plain_labels; ++r) {
    double w = req.weight ? read_as<double>(at(req.weight, weight_row_at(r)),
                                            req.weight->dtype)
                          : 1.0;
    if (index_list) {
      const char* row = at(target, target_row_at(r));
      for (int64_t j = 0; j < classes; ++j) {
        const int64_t label = read_label(row + j * target_class_stride, target->dtype);
        if (label < -1 || label >= classes) {
          result.bad_index = r;
          result.bad_label = label;
          return result;
        }
      }
    }
    if (has_labels) {
      int64_t label = read_label(at(labels, labels_row_at(r)), labels->dtype);
      if (req.has_ignore_index && label == req.ignore_index) continue;
      if (label < 0 || label >= classes) {
        result.bad_index = r;
        result.bad_label = label;
        return result;
      }
      if (weights_in_mean && class_weight_view) w *= double(class_weight[label]);
    }
    if (ranked && (classes == 0 || !any_valid_item(r))) continue;  // a list of padding only
    denominator.add(w);
  }
  const double denom = req.reduction == Reduction::mean ? denominator.value() : 1.0;
  if (rows == 0) {
    result.value = req.reduction == Reduction::mean && !ranked
                       ? std::numeric_limits<double>::quiet_NaN()
                       : 0.0;
    return result;
  }
  // A mean over zero total weight (every kept row's class weight 0) is nan, with nan gradients
  // on the kept rows, as PyTorch: also where label smoothing would make the numerator positive
  // and the plain division +inf.
  // The ranking losses' mean over no counted list is 0, with zero gradients (losses.def).
  const bool mean_over_nothing = req.reduction == Reduction::mean && denom == 0.0;
  const double scale = req.reduction == Reduction::none ? 1.0
                       : mean_over_nothing && ranked    ? 0.0
                       : mean_over_nothing              ? std::numeric_limits<double>::quiet_NaN()
                                                        : req.upstream_scalar / denom;

  const RowFn<T> row_fn = [&] {
    const RowTable& t = *active_kernels().rows;
    if constexpr (std::is_same_v<T, float>) return t.f32[int(req.kernel)];
    else return t.f64[int(req.kernel)];
  }();

  const int64_t rows_per_block = std::max<int64_t>(1, kRowBlockElements / std::max<int64_t>(classes, 1));
  const int64_t n_blocks = (rows + rows_per_block - 1) / rows_per_block;
  std::vector<double> partial(n_blocks, 0.0);
  std::vector<int64_t> bad_row(n_blocks, -1), bad_label(n_blocks, 0);
  const bool x_in_place = class_stride == int64_t(sizeof(T)) && x->dtype == dtype_of<T>();
  const int64_t grad_stride = wants_grad ? grad_out->strides[x->ndim - 1] : 0;
  const int64_t grad_y_stride = grad_y_out ? grad_y_out->strides[x->ndim - 1] : 0;
  // The dense target's probabilities, or the second logits row, read in place when contiguous.
  const bool probs_in_place =
      (dense || pair || ranked) && target->dtype == dtype_of<T>() &&
      target->strides[x->ndim - 1] == int64_t(sizeof(T));

  // What the driver reads for row r besides its logits: weights, the label (checked again where
  // it is used: the pass over the targets checked the caller's memory once, and another thread
  // may have changed it since) and the per-row class factor.
  struct RowMeta {
    double w = 1.0, up = 1.0, factor = 1.0, label_value = 0.0;
    int64_t label = -1;
    bool ignored = false;
  };
  // Whether row r's label is skipped: ignore_index, or out of range (kept as the block's first
  // bad row; the call then fails).
  auto skip_label = [&](int64_t label, int64_t r, int64_t b) {
    if (req.has_ignore_index && label == req.ignore_index) return true;
    if (label >= 0 && label < classes) return false;
    if (bad_row[b] < 0) {
      bad_row[b] = r;
      bad_label[b] = label;
    }
    return true;
  };
  auto row_meta = [&](int64_t r, int64_t b) {
    RowMeta meta;
    if (req.weight) meta.w = read_as<double>(at(req.weight, weight_row_at(r)), req.weight->dtype);
    if (req.upstream)
      meta.up = read_as<double>(at(req.upstream, upstream_row_at(r)), req.upstream->dtype);
    if (!has_labels) return meta;
    meta.label = plain_labels ? plain_label(r)
                              : read_label(at(labels, labels_row_at(r)), labels->dtype);
    meta.ignored = skip_label(meta.label, r, b);
    if (!meta.ignored) {
      if (weights_as_factor && class_weight_view) meta.factor = double(class_weight[meta.label]);
      if (label_aux) meta.label_value = label_values[meta.label];
    }
    return meta;
  };
  auto grad_row = [&](int64_t r) {
    return wants_grad ? static_cast<char*>(grad_out->data) + grad_row_at(r) : nullptr;
  };
  auto contiguous_row = [&](const char* p, bool in_place) {
    return in_place && reinterpret_cast<uintptr_t>(p) % alignof(T) == 0
               ? reinterpret_cast<const T*>(p)
               : nullptr;
  };
  auto write_loss = [&](int64_t r, double weighted) {
    if (!req.loss_out) return;
    T v = T(weighted);
    std::memcpy(static_cast<char*>(req.loss_out->data) + loss_row_at(r), &v, sizeof(T));
  };
  // The costs Delta(label, .) of row r, in place when they are contiguous T, else converted
  // into `copy`; nullptr for 0/1 costs.
  auto cost_row = [&](int64_t r, int64_t label, std::vector<T>& copy) -> const T* {
    const View* v = cost_rows ? cost_rows : cost_table;
    if (!v) return nullptr;
    const char* p = cost_rows ? at(v, cost_row_at(r)) : at(v, label * v->strides[0]);
    const int64_t stride = v->strides[v->ndim - 1];
    if (const T* row = contiguous_row(p, v->dtype == dtype_of<T>() && stride == int64_t(sizeof(T))))
      return row;
    copy.resize(classes);
    for (int64_t j = 0; j < classes; ++j) copy[j] = read_as<T>(p + j * stride, v->dtype);
    return copy.data();
  };
  // Writes row r's results and returns its weighted loss, the block sum's term.
  auto finish_row = [&](int64_t r, const RowMeta& meta, double loss) {
    const double weighted = meta.ignored ? 0.0 : meta.w * loss;
    write_loss(r, weighted);
    return weighted;
  };

  const TileFn<T> tile_fn = [&] {
    const RowTable& t = *active_kernels().rows;
    if constexpr (std::is_same_v<T, float>) return t.tile_f32[int(req.kernel)];
    else return t.tile_f64[int(req.kernel)];
  }();
  const bool tiled =
      tile_fn != nullptr && !index_list && !ranked && classes > 0 && classes <= kTileMaxClasses;
  auto new_tile = [&](const T* x_tile, const T* p_tile, T* g_tile) {
    RowTile<T> tile;
    tile.classes = classes;
    tile.class_weight = class_weight_view && weights_in_row ? class_weight.data() : nullptr;
    tile.class_weight_sum = class_weight_sum;
    tile.params = req.params;
    tile.has_label_value = label_aux != nullptr;
    tile.x = x_tile;
    tile.probs = p_tile;
    tile.grad = g_tile;
    return tile;
  };
  // Every row of v is kRows contiguous T at one stride: rows are addressed by pointer arithmetic.
  auto plain_rows_of = [&](const View* v, const RowIndex& row_at) {
    return v->dtype == dtype_of<T>() && v->strides[v->ndim - 1] == int64_t(sizeof(T)) &&
           row_at.linear() && row_at.stride() % int64_t(sizeof(T)) == 0 &&
           reinterpret_cast<uintptr_t>(v->data) % alignof(T) == 0;
  };
  const bool plain_tiles = tiled && plain_labels && plain_rows_of(x, x_row_at) &&
                           (!wants_grad || plain_rows_of(grad_out, grad_row_at));

  // The plain layout's tiles (int64 labels, no weights, logits and gradient rows of T at fixed
  // strides): the loop below without any per-row dispatch, which cost more than the tile's math.
  auto plain_tiled_block = [&](int64_t b, int64_t r_begin, int64_t r_end) {
    constexpr int R = kTileRows;
    alignas(64) T x_tile[kTileMaxClasses * R], g_tile[kTileMaxClasses * R];
    const T* x_base = static_cast<const T*>(x->data);
    const int64_t x_step = x_row_at.stride() / int64_t(sizeof(T));
    T* g_base = wants_grad ? static_cast<T*>(grad_out->data) : nullptr;
    const int64_t g_step = wants_grad ? grad_row_at.stride() / int64_t(sizeof(T)) : 0;
    RowTile<T> tile = new_tile(x_tile, nullptr, g_base ? g_tile : nullptr);
    double block_sum = 0.0;
    for (int64_t r0 = r_begin; r0 < r_end; r0 += R) {
      const int lanes = int(std::min<int64_t>(R, r_end - r0));
      bool ignored[R];
      int first_valid = -1;
      for (int l = 0; l < lanes; ++l) {
        const int64_t label = plain_label(r0 + l);
        ignored[l] = skip_label(label, r0 + l, b);
        tile.label[l] = ignored[l] ? 0 : label;
        if (!ignored[l] && first_valid < 0) first_valid = l;
      }
      if (first_valid >= 0) {
        const T* src_rows[R];
        for (int l = 0; l < R; ++l) {
          const int src = l < lanes && !ignored[l] ? l : first_valid;
          src_rows[l] = x_base + (r0 + src) * x_step;
          tile.label[l] = tile.label[src];
          tile.grad_scale[l] = scale;
        }
        for (int64_t j = 0; j < classes; ++j)
          for (int l = 0; l < R; ++l) x_tile[j * R + l] = src_rows[l][j];
        tile_fn(tile);
      }
      for (int l = 0; l < lanes; ++l) {
        const bool skip = first_valid < 0 || ignored[l];
        if (g_base) {
          T* g = g_base + (r0 + l) * g_step;
          for (int64_t j = 0; j < classes; ++j) g[j] = skip ? T(0) : g_tile[j * R + l];
        }
        const double loss = skip ? 0.0 : tile.loss[l];
        write_loss(r0 + l, loss);
        block_sum += loss;
      }
    }
    partial[b] = block_sum;
  };

  // Short rows, kTileRows at a time: gathered transposed into a tile, computed across rows, and
  // scattered back. Lanes without a row to compute (ignored rows, past the block's end) compute a
  // copy of a valid lane's row, and their results are dropped.
  auto tiled_block = [&](int64_t b, int64_t r_begin, int64_t r_end) {
    constexpr int R = kTileRows;
    alignas(64) T x_tile[kTileMaxClasses * R], g_tile[kTileMaxClasses * R],
        p_tile[kTileMaxClasses * R];
    double block_sum = 0.0;
    for (int64_t r0 = r_begin; r0 < r_end; r0 += R) {
      const int lanes = int(std::min<int64_t>(R, r_end - r0));
      RowMeta meta[R];
      int first_valid = -1;
      for (int l = 0; l < lanes; ++l) {
        meta[l] = row_meta(r0 + l, b);
        if (!meta[l].ignored && first_valid < 0) first_valid = l;
      }
      RowTile<T> tile = new_tile(x_tile, dense ? p_tile : nullptr, wants_grad ? g_tile : nullptr);
      if (first_valid >= 0) {
        // The logits: straight from each row when every row of the tile is contiguous, else
        // converted element by element.
        const T* x_rows[R];
        bool x_direct = true;
        for (int l = 0; l < R; ++l) {
          const int src = l < lanes && !meta[l].ignored ? l : first_valid;
          x_rows[l] = contiguous_row(at(x, x_row_at(r0 + src)), x_in_place);
          x_direct = x_direct && x_rows[l] != nullptr;
        }
        if (x_direct) {
          for (int64_t j = 0; j < classes; ++j)
            for (int l = 0; l < R; ++l) x_tile[j * R + l] = x_rows[l][j];
        }
        for (int l = 0; l < R; ++l) {
          const int src = l < lanes && !meta[l].ignored ? l : first_valid;
          const int64_t r = r0 + src;
          if (!x_direct) {
            const char* x_ptr = at(x, x_row_at(r));
            for (int64_t j = 0; j < classes; ++j)
              x_tile[j * R + l] = read_as<T>(x_ptr + j * class_stride, x->dtype);
          }
          if (dense) {
            const char* p_ptr = at(target, target_row_at(r));
            const int64_t ps = target->strides[x->ndim - 1];
            for (int64_t j = 0; j < classes; ++j)
              p_tile[j * R + l] = read_as<T>(p_ptr + j * ps, target->dtype);
          }
          tile.label[l] = meta[src].label;
          tile.label_value[l] = meta[src].label_value;
          tile.grad_scale[l] = scale * meta[src].w * meta[src].up * meta[src].factor;
        }
        tile_fn(tile);
      }
      for (int l = 0; l < lanes; ++l) {
        const int64_t r = r0 + l;
        if (char* g_ptr = grad_row(r)) {
          if (meta[l].ignored || first_valid < 0) {
            const T zero = T(0);
            for (int64_t j = 0; j < classes; ++j)
              std::memcpy(g_ptr + j * grad_stride, &zero, sizeof(T));
          } else if (grad_stride == int64_t(sizeof(T)) &&
                     reinterpret_cast<uintptr_t>(g_ptr) % alignof(T) == 0) {
            T* g = reinterpret_cast<T*>(g_ptr);
            for (int64_t j = 0; j < classes; ++j) g[j] = g_tile[j * R + l];
          } else {
            for (int64_t j = 0; j < classes; ++j)
              std::memcpy(g_ptr + j * grad_stride, &g_tile[j * R + l], sizeof(T));
          }
        }
        block_sum += finish_row(r, meta[l], meta[l].ignored ? 0.0 : tile.loss[l] * meta[l].factor);
      }
    }
    partial[b] = block_sum;
  };

  // An index-list row: its valid class indices into `labels` and their indicator row into `listed`
  // (every entry checked again, as labels are: the caller's memory may have changed since the
  // pass over the targets). Returns whether every entry is in range.
  auto read_index_list = [&](int64_t r, int64_t b, std::vector<int64_t>& labels,
                             std::vector<T>& listed) {
    const char* row = at(target, target_row_at(r));
    labels.clear();
    listed.assign(classes, T(0));
    bool ended = false;
    for (int64_t j = 0; j < classes; ++j) {
      const int64_t label = read_label(row + j * target_class_stride, target->dtype);
      if (label < -1 || label >= classes) {
        if (bad_row[b] < 0) {
          bad_row[b] = r;
          bad_label[b] = label;
        }
        return false;
      }
      ended = ended || label == -1;
      if (ended) continue;
      labels.push_back(label);
      listed[label] = T(1);
    }
    return true;
  };

  // Rows one at a time, in place where the layout allows it, else through contiguous scratch rows.
  auto row_block = [&](int64_t b, int64_t r_begin, int64_t r_end, std::vector<T>& x_row,
                       std::vector<T>& g_row, std::vector<T>& p_row, std::vector<T>& gy_row,
                       std::vector<int64_t>& l_row) {
    double block_sum = 0.0;
    for (int64_t r = r_begin; r < r_end; ++r) {
      RowMeta meta = row_meta(r, b);
      if (index_list && !meta.ignored) meta.ignored = !read_index_list(r, b, l_row, p_row);
      char* g_ptr = grad_row(r);
      const bool g_in_place = wants_grad && grad_stride == int64_t(sizeof(T)) &&
                              reinterpret_cast<uintptr_t>(g_ptr) % alignof(T) == 0;
      char* gy_ptr = grad_y_out ? static_cast<char*>(grad_y_out->data) + grad_y_row_at(r) : nullptr;
      const bool gy_in_place = gy_ptr && grad_y_stride == int64_t(sizeof(T)) &&
                               reinterpret_cast<uintptr_t>(gy_ptr) % alignof(T) == 0;
      RowArgs<T> a{};
      a.classes = classes;
      a.label = meta.label;
      a.has_label = has_labels && !meta.ignored;
      a.class_weight = class_weight_view && weights_in_row ? class_weight.data() : nullptr;
      a.class_weight_sum = class_weight_sum;
      a.params = req.params;
      a.has_label_value = label_aux != nullptr && !meta.ignored;
      a.label_value = meta.label_value;
      double loss = 0.0;  // also the loss of a row with no classes (an empty sum, as PyTorch)
      if (!meta.ignored && classes > 0) {
        const char* x_ptr = at(x, x_row_at(r));
        // An index-list kernel reads the logits after writing its gradient: in place, it gets
        // a copy (losses.def).
        const bool shared = index_list && g_in_place && g_ptr == x_ptr;
        if (const T* row = contiguous_row(x_ptr, x_in_place && !shared)) {
          a.x = row;
        } else {
          x_row.resize(classes);
          for (int64_t j = 0; j < classes; ++j)
            x_row[j] = read_as<T>(x_ptr + j * class_stride, x->dtype);
          a.x = x_row.data();
        }
        if (index_list) {
          a.probs = p_row.data();
          a.labels = l_row.data();
          a.label_count = int64_t(l_row.size());
        } else if (dense || pair) {
          const char* p_ptr = at(target, target_row_at(r));
          const T* row = contiguous_row(p_ptr, probs_in_place);
          if (!row) {
            p_row.resize(classes);
            const int64_t ps = target->strides[x->ndim - 1];
            for (int64_t j = 0; j < classes; ++j)
              p_row[j] = read_as<T>(p_ptr + j * ps, target->dtype);
            row = p_row.data();
          }
          (dense ? a.probs : a.y) = row;
        }
        if (costed) a.cost = cost_row(r, meta.label, p_row);
        if (gy_ptr) {
          if (gy_in_place) {
            a.grad_y = reinterpret_cast<T*>(gy_ptr);
          } else {
            gy_row.resize(classes);
            a.grad_y = gy_row.data();
          }
          a.grad_scale = scale * meta.w * meta.up * meta.factor;
        }
        if (wants_grad) {
          if (g_in_place) {
            a.grad = reinterpret_cast<T*>(g_ptr);
          } else {
            g_row.resize(classes);
            a.grad = g_row.data();
          }
          a.grad_scale = scale * meta.w * meta.up * meta.factor;
        }
        loss = row_fn(a) * meta.factor;
      }
      if (wants_grad && (meta.ignored || !g_in_place)) {
        for (int64_t j = 0; j < classes; ++j) {
          T v = meta.ignored ? T(0) : a.grad[j];
          std::memcpy(g_ptr + j * grad_stride, &v, sizeof(T));
        }
      }
      if (gy_ptr && (meta.ignored || !gy_in_place)) {
        for (int64_t j = 0; j < classes; ++j) {
          T v = meta.ignored ? T(0) : a.grad_y[j];
          std::memcpy(gy_ptr + j * grad_y_stride, &v, sizeof(T));
        }
      }
      block_sum += finish_row(r, meta, loss);
    }
    partial[b] = block_sum;
  };

  // Ranking lists: each list's valid items gathered into contiguous rows (the scores and the
  // relevance, in list order), the kernel run on those, and the gradient scattered back with 0 at
  // padding. Without a mask, contiguous rows of T are used in place.
  struct ListScratch {
    std::vector<T> x, p, g;
    std::vector<int64_t> items, order;
    std::vector<uint32_t> keys32;  // the radix sort's keys and their scratch (float lists)
    std::vector<uint64_t> keys64;  // (double lists)
    std::vector<double> work;
  };
  // The items 0..n-1 of a list by decreasing relevance, ties (and -0 against +0) in list order:
  // an LSD radix sort, stable, of integer keys that order as the values do (NaN included, though
  // such a list's loss is NaN anyway), so the order is total and deterministic. Bytes that every
  // key shares are skipped (graded labels 0..4 differ in two bytes of a float, equal labels in
  // none), and each histogram is counted in four banks, so that runs of one digit do not make
  // one long chain of increments of one counter.
  auto order_by_relevance = [&](const T* rel, int64_t n, ListScratch& s) {
    using Key = std::conditional_t<std::is_same_v<T, float>, uint32_t, uint64_t>;
    constexpr Key kSign = Key(1) << (8 * sizeof(Key) - 1);
    std::vector<Key>& keys = [&]() -> std::vector<Key>& {
      if constexpr (std::is_same_v<Key, uint32_t>) return s.keys32;
      else return s.keys64;
    }();
    keys.resize(2 * n);
    s.order.resize(2 * n);
    Key* key = keys.data();
    Key* key_tmp = key + n;
    int64_t* order = s.order.data();
    int64_t* order_tmp = order + n;
    for (int64_t k = 0; k < n; ++k) {
      const T v = rel[k] + T(0);  // -0 + 0 = +0: equal values, equal keys
      Key bits;
      std::memcpy(&bits, &v, sizeof bits);
      // ascending unsigned order of the values, inverted: decreasing relevance first
      key[k] = ~(bits & kSign ? ~bits : bits | kSign);
      order[k] = k;
    }
    Key some = 0, every = ~Key(0);
    for (int64_t k = 0; k < n; ++k) {
      some |= key[k];
      every &= key[k];
    }
    const Key varying = some ^ every;
    for (int shift = 0; shift < int(8 * sizeof(Key)); shift += 8) {
      if (((varying >> shift) & 0xff) == 0) continue;  // one digit: nothing moves
      uint32_t banks[4][256] = {};
      int64_t i = 0;
      for (; i + 4 <= n; i += 4)
        for (int b = 0; b < 4; ++b) ++banks[b][(key[i + b] >> shift) & 0xff];
      for (; i < n; ++i) ++banks[0][(key[i] >> shift) & 0xff];
      int64_t count[256];
      int64_t start = 0;
      for (int d = 0; d < 256; ++d) {
        count[d] = start;
        start += int64_t(banks[0][d]) + banks[1][d] + banks[2][d] + banks[3][d];
      }
      for (int64_t k = 0; k < n; ++k) {
        const int64_t at = count[(key[k] >> shift) & 0xff]++;
        key_tmp[at] = key[k];
        order_tmp[at] = order[k];
      }
      std::swap(key, key_tmp);
      std::swap(order, order_tmp);
    }
    if (order != s.order.data()) std::memcpy(s.order.data(), order, n * sizeof(int64_t));
  };
  auto ranked_block = [&](int64_t b, int64_t r_begin, int64_t r_end, ListScratch& s) {
    double block_sum = 0.0;
    const int64_t ps = ranked ? target->strides[x->ndim - 1] : 0;
    for (int64_t r = r_begin; r < r_end; ++r) {
      const RowMeta meta = row_meta(r, b);
      char* g_ptr = grad_row(r);
      // The valid items' positions (with a mask; without one, every item in list order).
      s.items.clear();
      for (int64_t j = 0; j < classes && mask; ++j)
        if (valid_item(r, j)) s.items.push_back(j);
      const int64_t n = mask ? int64_t(s.items.size()) : classes;
      const bool in_place = !mask;
      const char* x_ptr = at(x, x_row_at(r));
      const char* p_ptr = at(target, target_row_at(r));
      RowArgs<T> a{};
      a.classes = n;
      a.params = req.params;
      a.grad_scale = scale * meta.w * meta.up;
      // In place (the gradient row is the scores row), the kernel gets a copy of the scores: it
      // may read them after writing its gradient.
      const T* x_direct = in_place && g_ptr != x_ptr ? contiguous_row(x_ptr, x_in_place) : nullptr;
      const T* p_direct = in_place ? contiguous_row(p_ptr, probs_in_place) : nullptr;
      if (!x_direct) s.x.resize(n);
      if (!p_direct) s.p.resize(n);
      for (int64_t k = 0; k < n && !(x_direct && p_direct); ++k) {
        const int64_t j = mask ? s.items[k] : k;
        if (!x_direct) s.x[k] = read_as<T>(x_ptr + j * class_stride, x->dtype);
        if (!p_direct) s.p[k] = read_as<T>(p_ptr + j * ps, target->dtype);
      }
      a.x = x_direct ? x_direct : s.x.data();
      a.probs = p_direct ? p_direct : s.p.data();
      const bool g_in_place = in_place && wants_grad && grad_stride == int64_t(sizeof(T)) &&
                              reinterpret_cast<uintptr_t>(g_ptr) % alignof(T) == 0;
      if (wants_grad) {
        if (!g_in_place) s.g.resize(n);
        a.grad = g_in_place ? reinterpret_cast<T*>(g_ptr) : s.g.data();
      }
      if (ordered && n > 0) {
        order_by_relevance(a.probs, n, s);
        s.work.resize(2 * n);
        a.labels = s.order.data();
        a.label_count = n;
        a.work = s.work.data();
      }
      const double loss = n > 0 ? row_fn(a) : 0.0;  // a list of padding only: 0
      if (wants_grad && !g_in_place) {
        const T zero = T(0);
        for (int64_t j = 0; j < classes; ++j)
          std::memcpy(g_ptr + j * grad_stride, &zero, sizeof(T));
        for (int64_t k = 0; k < n; ++k)
          std::memcpy(g_ptr + (mask ? s.items[k] : k) * grad_stride, &a.grad[k], sizeof(T));
      }
      block_sum += finish_row(r, meta, loss);
    }
    partial[b] = block_sum;
  };

  parallel_for(n_blocks, rows * classes, [&](int64_t block_begin, int64_t block_end) {
    std::vector<T> x_row, g_row, p_row, gy_row;
    std::vector<int64_t> l_row;
    ListScratch lists;
    for (int64_t b = block_begin; b < block_end; ++b) {
      const int64_t r_begin = b * rows_per_block, r_end = std::min(rows, r_begin + rows_per_block);
      if (ranked) ranked_block(b, r_begin, r_end, lists);
      else if (plain_tiles) plain_tiled_block(b, r_begin, r_end);
      else if (tiled) tiled_block(b, r_begin, r_end);
      else row_block(b, r_begin, r_end, x_row, g_row, p_row, gy_row, l_row);
    }
  });

  for (int64_t b = 0; b < n_blocks; ++b) {
    if (bad_row[b] >= 0) {
      result.bad_index = bad_row[b];
      result.bad_label = bad_label[b];
      return result;
    }
  }
  const double total = pairwise_sum(partial.data(), n_blocks);
  result.value = req.reduction != Reduction::mean ? total
                 : mean_over_nothing && ranked     ? 0.0
                 : mean_over_nothing               ? std::numeric_limits<double>::quiet_NaN()
                                                   : total / denom;
  // Logits with no classes are an empty input: mean is nan, as for every empty input (PyTorch).
  if (classes == 0 && req.reduction == Reduction::mean && !ranked)
    result.value = std::numeric_limits<double>::quiet_NaN();
  return result;
}

}  // namespace

LossResult rows(const LossRequest& req) {
  return req.x()->dtype == DType::f32 ? run<float>(req) : run<double>(req);
}

}  // namespace fastloss::cpu
