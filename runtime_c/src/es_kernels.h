/* Kernel entry points, internal to the runtime. Each kernel receives its layer's params
 * struct (already validated by es_model_init), the blob base its table offsets are
 * relative to, and its input and output buffers inside the arena (never overlapping).
 * Ops live in src/ops/ (each file: the kernel, its check and its registry entry,
 * es_registry.h); the weight-format matrix-vector kernels FC and conv share live in
 * src/kernels/ (es_matvec.h), their formats' checks and bindings in src/formats/. Every kernel's output equals TFLite's reference kernels byte
 * for byte (tests/runtime compare them with TFLM). */
#ifndef ES_KERNELS_H
#define ES_KERNELS_H

#include "edgesparse.h"

/* FULLY_CONNECTED and CONV_2D in any weight format: f is its registry entry (kernel and
 * binding, es_registry.h); arena holds the layer's scratch buffer at p->scratch_offset;
 * layer_flags are the layer record's (ES_LAYER_RQ_WHOLE: the kernels' whole-range path). */
struct es_format_entry;
void es_fully_connected_s8(const es_fc_params_t *p, const struct es_format_entry *f,
                           const uint8_t *blob, uint8_t *arena, const int8_t *input, int8_t *output,
                           uint32_t layer_flags);
void es_conv2d_s8(const es_conv_params_t *p, const struct es_format_entry *f, const uint8_t *blob,
                  uint8_t *arena, const int8_t *input, int8_t *output, uint32_t layer_flags);
/* With ES_LAYER_RQ_PER_TENSOR the blob holds one multiplier and shift for every channel; the
 * kernels read per-channel tables, which es_conv2d_s8 fills at each call (2 stores per channel)
 * at the end of the layer's scratch: es_conv2d_rq_offset bytes in, 8 * out_c bytes. */
uint32_t es_conv2d_rq_offset(const es_conv_params_t *p, const struct es_format_entry *f);
/* Bytes of the column buffers es_conv2d_s8 keeps at the start of its scratch with format f (the
 * int8 im2col column, the two-pixel int16 buffer of a format with a conv2 kernel; 0: none). */
uint32_t es_conv2d_im2col_bytes(const es_conv_params_t *p, const struct es_format_entry *f);
/* DEPTHWISE_CONV_2D, dense weights: reference C and DSP (es_depthwise_conv2d_s8.h). */
void es_depthwise_conv2d_s8(const es_conv_params_t *p, const uint8_t *blob, const int8_t *input,
                            int8_t *output);
void es_depthwise_conv2d_s8_dsp(const es_conv_params_t *p, const uint8_t *blob, const int8_t *input,
                                int8_t *output);
/* DEPTHWISE_CONV_2D, CSR16 weights (rows: output channels, columns: taps ky * k_w + kx):
 * reference C and DSP (ops/es_depthwise_csr16_s8.h); scratch: the channel plane, then one
 * uint32 plane offset per tap (es_dw_plane_scratch_bytes). */
void es_depthwise_csr16_s8(const es_conv_params_t *p, const uint8_t *blob, uint8_t *arena,
                           const int8_t *input, int8_t *output);
void es_depthwise_csr16_s8_dsp(const es_conv_params_t *p, const uint8_t *blob, uint8_t *arena,
                               const int8_t *input, int8_t *output);
/* The padded plane one input channel is copied into (fast axis "f": x, or y when that rounds
 * fewer output pixels up to groups of four; slow axis "s"). Strides are in bytes of the NHWC
 * tensors; the plane's rows are row_bytes long, each s_f phases of wq bytes. */
#define ES_DW_PLANE_MAX_STRIDE 4
typedef struct {
    uint32_t fast_y; /* 1: the fast axis is y */
    uint32_t in_s, in_f, out_s, out_f, s_s, s_f, d_s, d_f, pad_s, pad_f;
    uint32_t groups, wq, row_bytes, rows, plane_bytes; /* plane_bytes: a multiple of 4 */
    int32_t in_ss, in_fs, out_ss, out_fs;
} es_dw_plane_t;
void es_dw_plane(const es_conv_params_t *p, es_dw_plane_t *g);
/* The plane offset of tap (ky, kx) from an output pixel's first cell. */
uint32_t es_dw_tap_offset(const es_conv_params_t *p, const es_dw_plane_t *g, uint32_t ky, uint32_t kx);
/* Scratch the sparse depthwise kernel needs (0 when its plane cannot be laid out). */
uint64_t es_dw_plane_scratch_bytes(const es_conv_params_t *p);
void es_max_pool2d_s8(const es_pool_params_t *p, const int8_t *input, int8_t *output);
void es_avg_pool2d_s8(const es_pool_params_t *p, const int8_t *input, int8_t *output);
void es_softmax_s8(const es_softmax_params_t *p, const int8_t *input, int8_t *output);
void es_add_s8(const es_add_params_t *p, const int8_t *input1, const int8_t *input2,
               int8_t *output);
void es_pad_s8(const es_pad_params_t *p, const int8_t *input, int8_t *output);
void es_mean_s8(const es_mean_params_t *p, const int8_t *input, int8_t *output);
/* Reads its inputs from the arena through the es_concat_input_t table in the blob. */
void es_concatenation_s8(const es_concat_params_t *p, const uint8_t *blob, const es_tensor_t *tensors,
                         const uint8_t *arena, int8_t *output);
void es_strided_slice_s8(const es_slice_params_t *p, const int8_t *input, int8_t *output);
void es_mul_s8(const es_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);
void es_lut_s8(const es_lut_params_t *p, const int8_t *input, int8_t *output);
void es_quantize_f32_s8(const es_affine_params_t *p, const float *input, int8_t *output);
void es_dequantize_s8_f32(const es_affine_params_t *p, const int8_t *input, float *output);
void es_add_broadcast_s8(const es_add_broadcast_params_t *p, const int8_t *input1, const int8_t *input2,
                         int8_t *output);
void es_sub_broadcast_s8(const es_add_broadcast_params_t *p, const int8_t *input1, const int8_t *input2,
                         int8_t *output);
void es_transpose_s8(const es_transpose_params_t *p, const int8_t *input, int8_t *output);
/* MAXIMUM (is_max 1) or MINIMUM (is_max 0). */
void es_maximum_minimum_s8(const es_minmax_params_t *p, int is_max, const int8_t *input1,
                           const int8_t *input2, int8_t *output);
/* Reads its row and column maps from the blob. */
void es_resize_nearest_s8(const es_resize_params_t *p, const uint8_t *blob, const int8_t *input,
                          int8_t *output);
void es_batch_matmul_s8(const es_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *output);

#endif /* ES_KERNELS_H */
