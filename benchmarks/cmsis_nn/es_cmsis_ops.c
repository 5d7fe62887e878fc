/* Benchmark only: registry entries (runtime_c/src/es_registry.h) whose eval calls CMSIS-NN's
 * int8 kernels through their public API, so a model's firmware can be built a second time with
 * CMSIS-NN's kernels on the same blob, arena plan and interpreter (benchmarks/cmsis_nn.py; the
 * generated model.c picks these entries up through es_cmsis_overrides.h). Nothing of CMSIS-NN
 * is copied here: it is compiled from its own sources (CMSIS_NN_DIR) and called.
 *
 * Each entry runs our own check first (its op's validation), then what CMSIS-NN needs:
 *  - CONV_2D and FULLY_CONNECTED: our blob folds the input offset into the bias
 *    (bias + input_offset * sum(w), runtime_c/src/es_matvec.h); CMSIS-NN takes the model's
 *    own bias and the input offset. The check (es_model_init, so never inside an invoke)
 *    recovers the original bias once into es_cmsis_bias_pool, a static array sized by the
 *    build (ES_CMSIS_BIAS_WORDS, from the plan). A layer whose weights are not dense keeps our
 *    kernel (CMSIS-NN has only dense ones).
 *  - CMSIS-NN's scratch (its arm_*_get_buffer_size) is one static buffer shared by every layer,
 *    ES_CMSIS_SCRATCH_BYTES long (an upper bound the build computes from the plan); the check
 *    refuses a layer needing more (ES_ERR_ARENA_TOO_SMALL).
 * So es_model_init writes static storage outside the model here: one model per firmware. */
#include <stddef.h>
#include <stdint.h>

#include "arm_nnfunctions.h"
#include "es_kernels.h" /* es_conv2d_rq_offset */
#include "es_registry.h"
#include "model.h"
#ifdef ES_CMSIS_SIZES_HEADER
#include "es_cmsis_sizes.h" /* the plan's buffer sizes, beside model.h (benchmarks/cmsis_nn.py) */
#endif

#ifndef ES_CMSIS_SCRATCH_BYTES
#define ES_CMSIS_SCRATCH_BYTES 16384u
#endif
#ifndef ES_CMSIS_BIAS_WORDS
#define ES_CMSIS_BIAS_WORDS 4096u
#endif

/* Our entries: their checks validate each layer, and a layer CMSIS-NN cannot run keeps their
 * eval. */
extern const es_op_entry_t es_op_conv_2d;
extern const es_op_entry_t es_op_fully_connected;
extern const es_op_entry_t es_op_add;
extern const es_op_entry_t es_op_softmax;
es_status_t es_depthwise_conv2d_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                      const es_tensor_t *in, const es_tensor_t *in2,
                                      const es_tensor_t *out);

static uint32_t es_cmsis_scratch[(ES_CMSIS_SCRATCH_BYTES + 3u) / 4u];
static int32_t es_cmsis_bias_pool[ES_CMSIS_BIAS_WORDS > 0u ? ES_CMSIS_BIAS_WORDS : 1u];
static uint32_t es_cmsis_bias_used;
/* per layer: its original bias in the pool (NULL: our kernel runs the layer) */
static int32_t *es_cmsis_bias[ES_MODEL_LAYER_COUNT];
static uint32_t es_cmsis_bias_words[ES_MODEL_LAYER_COUNT];
/* per FULLY_CONNECTED layer: 1 when its multipliers / shifts differ between outputs */
static uint8_t es_cmsis_per_channel[ES_MODEL_LAYER_COUNT];

static cmsis_nn_context es_cmsis_ctx(void)
{
    cmsis_nn_context ctx;
    ctx.buf = es_cmsis_scratch;
    ctx.size = (int32_t)sizeof es_cmsis_scratch;
    return ctx;
}

static int32_t *es_cmsis_ptr(const uint8_t *blob, uint32_t offset)
{
    /* CMSIS-NN's quantization structs take non-const pointers; it only reads them */
    return (int32_t *)(uintptr_t)(const void *)(blob + offset);
}

/* The layer index of a layer record inside the blob being checked (ES_MODEL_LAYER_COUNT when
 * it is not one of this model's). */
static uint32_t es_cmsis_layer_index(const es_check_t *c, const es_layer_t *l)
{
    const es_model_header_t *h = (const es_model_header_t *)(const void *)c->blob;
    const uint8_t *first = c->blob + h->layers_offset;
    const uint8_t *at = (const uint8_t *)(const void *)l;
    if (at < first || h->layer_count != ES_MODEL_LAYER_COUNT) {
        return ES_MODEL_LAYER_COUNT;
    }
    return (uint32_t)((size_t)(at - first) / sizeof(es_layer_t));
}

/* words of the bias pool for layer i (the same ones again when the model is initialised
 * again); NULL when the pool is too small. */
static int32_t *es_cmsis_reserve(uint32_t i, uint32_t words)
{
    if (es_cmsis_bias[i] != NULL && es_cmsis_bias_words[i] == words) {
        return es_cmsis_bias[i];
    }
    if (words > ES_CMSIS_BIAS_WORDS - es_cmsis_bias_used) {
        return NULL;
    }
    es_cmsis_bias_used += words;
    es_cmsis_bias_words[i] = words;
    return &es_cmsis_bias_pool[es_cmsis_bias_used - words];
}

/* bias[r] = folded[r] - input_offset * sum(weights[r][...]): the model's own bias. */
static es_status_t es_cmsis_unfold_bias(const es_check_t *c, uint32_t layer, uint32_t bias_offset,
                                        uint32_t weights_offset, uint32_t rows, uint32_t cols,
                                        int32_t input_offset)
{
    const int32_t *folded = es_cmsis_ptr(c->blob, bias_offset);
    const int8_t *w = (const int8_t *)(const void *)(c->blob + weights_offset);
    int32_t *bias = es_cmsis_reserve(layer, rows);
    uint32_t r, k;
    if (bias == NULL) {
        return ES_ERR_ARENA_TOO_SMALL;
    }
    for (r = 0; r < rows; ++r, w += cols) {
        int64_t sum = 0;
        int64_t v;
        for (k = 0; k < cols; ++k) {
            sum += w[k];
        }
        v = (int64_t)folded[r] - (int64_t)input_offset * sum;
        if (v < INT32_MIN || v > INT32_MAX) {
            return ES_ERR_QUANT;
        }
        bias[r] = (int32_t)v;
    }
    es_cmsis_bias[layer] = bias;
    return ES_OK;
}

/* ---- CONV_2D: arm_convolve_wrapper_s8 (1x1 fast, 1x1, 1xN or im2col, as CMSIS-NN picks) ---- */

static void es_cmsis_conv_args(const es_conv_params_t *p, cmsis_nn_conv_params *cp, cmsis_nn_dims *in,
                               cmsis_nn_dims *filter, cmsis_nn_dims *bias, cmsis_nn_dims *out)
{
    cp->input_offset = p->input_offset;
    cp->output_offset = p->output_zero_point;
    cp->stride.w = p->stride_w;
    cp->stride.h = p->stride_h;
    cp->padding.w = p->pad_left;
    cp->padding.h = p->pad_top;
    cp->dilation.w = p->dil_w;
    cp->dilation.h = p->dil_h;
    cp->activation.min = p->act_min;
    cp->activation.max = p->act_max;
    in->n = 1;
    in->h = p->in_h;
    in->w = p->in_w;
    in->c = p->in_c;
    filter->n = p->out_c;
    filter->h = p->k_h;
    filter->w = p->k_w;
    filter->c = p->in_c;
    bias->n = 1;
    bias->h = 1;
    bias->w = 1;
    bias->c = p->out_c;
    out->n = 1;
    out->h = p->out_h;
    out->w = p->out_w;
    out->c = p->out_c;
}

static es_status_t es_cmsis_conv_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                       const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const uint32_t i = es_cmsis_layer_index(c, l);
    cmsis_nn_conv_params cp;
    cmsis_nn_dims in_d, f_d, b_d, out_d;
    es_status_t st = es_op_conv_2d.check(c, l, params, in, in2, out);
    if (st != ES_OK) {
        return st;
    }
    if (i >= ES_MODEL_LAYER_COUNT) {
        return ES_ERR_OP;
    }
    es_cmsis_bias[i] = NULL;
    if (l->format != ES_FMT_DENSE) {
        return ES_OK; /* our kernel runs it */
    }
    es_cmsis_conv_args(p, &cp, &in_d, &f_d, &b_d, &out_d);
    if (arm_convolve_wrapper_s8_get_buffer_size(&cp, &in_d, &f_d, &out_d) > (int32_t)sizeof es_cmsis_scratch) {
        return ES_ERR_ARENA_TOO_SMALL;
    }
    return es_cmsis_unfold_bias(c, i, p->bias_offset, p->weights_offset, p->out_c,
                                (uint32_t)p->k_h * p->k_w * p->in_c, p->input_offset);
}

static void es_cmsis_conv_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const int32_t *bias = es_cmsis_bias[l - m->layers];
    const cmsis_nn_context ctx = es_cmsis_ctx();
    cmsis_nn_conv_params cp;
    cmsis_nn_per_channel_quant_params q;
    cmsis_nn_dims in_d, f_d, b_d, out_d;
    if (bias == NULL) {
        es_op_conv_2d.eval(m, l, params);
        return;
    }
    es_cmsis_conv_args(p, &cp, &in_d, &f_d, &b_d, &out_d);
    q.multiplier = es_cmsis_ptr(m->blob, p->mult_offset);
    q.shift = es_cmsis_ptr(m->blob, p->shift_offset);
    if ((l->flags & ES_LAYER_RQ_PER_TENSOR) != 0u) {
        /* one multiplier and shift stored: CMSIS-NN takes per-channel tables, written where
         * our kernel writes them (the end of the layer's scratch) */
        int32_t *rq = (int32_t *)(void *)(m->arena + p->scratch_offset +
                                          es_conv2d_rq_offset(p, es_layer_format(m, l)));
        uint32_t ch;
        for (ch = 0; ch < p->out_c; ++ch) {
            rq[ch] = q.multiplier[0];
            rq[p->out_c + ch] = q.shift[0];
        }
        q.multiplier = rq;
        q.shift = rq + p->out_c;
    }
    (void)arm_convolve_wrapper_s8(&ctx, &cp, &q, &in_d, es_layer_input(m, l), &f_d,
                                  (const int8_t *)(const void *)(m->blob + p->weights_offset), &b_d, bias,
                                  &out_d, es_layer_output(m, l));
}

const es_op_entry_t es_cmsis_op_conv_2d = {
    ES_OP_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS, sizeof(es_conv_params_t), es_cmsis_conv_check,
    es_cmsis_conv_eval, ES_FIELD_AT(es_conv_params_t, weights_offset),
    ES_FIELD_AT(es_conv_params_t, scratch_offset),
};

/* ---- DEPTHWISE_CONV_2D: arm_depthwise_conv_wrapper_s8 (3x3, opt or generic); weights
 * [k_h][k_w][out_c] and the model's own bias, as CMSIS-NN takes them ---- */

static void es_cmsis_dw_args(const es_conv_params_t *p, cmsis_nn_dw_conv_params *dp, cmsis_nn_dims *in,
                             cmsis_nn_dims *filter, cmsis_nn_dims *bias, cmsis_nn_dims *out)
{
    dp->input_offset = p->input_offset;
    dp->output_offset = p->output_zero_point;
    dp->ch_mult = p->depth_multiplier;
    dp->stride.w = p->stride_w;
    dp->stride.h = p->stride_h;
    dp->padding.w = p->pad_left;
    dp->padding.h = p->pad_top;
    dp->dilation.w = p->dil_w;
    dp->dilation.h = p->dil_h;
    dp->activation.min = p->act_min;
    dp->activation.max = p->act_max;
    in->n = 1;
    in->h = p->in_h;
    in->w = p->in_w;
    in->c = p->in_c;
    filter->n = 1;
    filter->h = p->k_h;
    filter->w = p->k_w;
    filter->c = p->out_c;
    bias->n = 1;
    bias->h = 1;
    bias->w = 1;
    bias->c = p->out_c;
    out->n = 1;
    out->h = p->out_h;
    out->w = p->out_w;
    out->c = p->out_c;
}

static es_status_t es_cmsis_dw_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                     const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    cmsis_nn_dw_conv_params dp;
    cmsis_nn_dims in_d, f_d, b_d, out_d;
    es_status_t st = es_depthwise_conv2d_check(c, l, params, in, in2, out);
    if (st != ES_OK) {
        return st;
    }
    es_cmsis_dw_args((const es_conv_params_t *)params, &dp, &in_d, &f_d, &b_d, &out_d);
    return arm_depthwise_conv_wrapper_s8_get_buffer_size(&dp, &in_d, &f_d, &out_d) > (int32_t)sizeof es_cmsis_scratch
               ? ES_ERR_ARENA_TOO_SMALL
               : ES_OK;
}

static void es_cmsis_dw_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const es_conv_params_t *p = (const es_conv_params_t *)params;
    const cmsis_nn_context ctx = es_cmsis_ctx();
    cmsis_nn_dw_conv_params dp;
    cmsis_nn_per_channel_quant_params q;
    cmsis_nn_dims in_d, f_d, b_d, out_d;
    es_cmsis_dw_args(p, &dp, &in_d, &f_d, &b_d, &out_d);
    q.multiplier = es_cmsis_ptr(m->blob, p->mult_offset);
    q.shift = es_cmsis_ptr(m->blob, p->shift_offset);
    (void)arm_depthwise_conv_wrapper_s8(&ctx, &dp, &q, &in_d, es_layer_input(m, l), &f_d,
                                        (const int8_t *)(const void *)(m->blob + p->weights_offset), &b_d,
                                        es_cmsis_ptr(m->blob, p->bias_offset), &out_d, es_layer_output(m, l));
}

const es_op_entry_t es_cmsis_op_depthwise_conv_2d = {
    ES_OP_DEPTHWISE_CONV_2D, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS | ES_OPF_OWN_FORMAT, sizeof(es_conv_params_t),
    es_cmsis_dw_check, es_cmsis_dw_eval, ES_FIELD_AT(es_conv_params_t, weights_offset), 0,
};

/* ---- FULLY_CONNECTED: arm_fully_connected_s8 (per-tensor) or _per_channel_s8, through
 * arm_fully_connected_wrapper_s8 ---- */

static es_status_t es_cmsis_fc_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                     const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_fc_params_t *p = (const es_fc_params_t *)params;
    const uint32_t i = es_cmsis_layer_index(c, l);
    const int32_t *mult = es_cmsis_ptr(c->blob, p->mult_offset);
    const int32_t *shift = es_cmsis_ptr(c->blob, p->shift_offset);
    uint32_t r;
    es_status_t st = es_op_fully_connected.check(c, l, params, in, in2, out);
    if (st != ES_OK) {
        return st;
    }
    if (i >= ES_MODEL_LAYER_COUNT) {
        return ES_ERR_OP;
    }
    es_cmsis_bias[i] = NULL;
    if (l->format != ES_FMT_DENSE) {
        return ES_OK; /* our kernel runs it */
    }
    if (!es_input_offset_ok(-in->zero_point)) {
        return ES_ERR_QUANT;
    }
#if !defined(ARM_MATH_MVEI) /* with Helium, ctx holds the kernel sums: the folded bias */
    {
        cmsis_nn_dims f_d;
        f_d.n = (int32_t)p->in_features;
        f_d.h = 1;
        f_d.w = 1;
        f_d.c = (int32_t)p->out_features;
        if (arm_fully_connected_s8_get_buffer_size(&f_d) > (int32_t)sizeof es_cmsis_scratch) {
            return ES_ERR_ARENA_TOO_SMALL;
        }
    }
#endif
    es_cmsis_per_channel[i] = 0;
    /* ES_LAYER_RQ_PER_TENSOR: one multiplier and shift stored, nothing to compare */
    for (r = 1; (l->flags & ES_LAYER_RQ_PER_TENSOR) == 0u && r < p->out_features; ++r) {
        if (mult[r] != mult[0] || shift[r] != shift[0]) {
            es_cmsis_per_channel[i] = 1;
        }
    }
    return es_cmsis_unfold_bias(c, i, p->bias_offset, p->weights_offset, p->out_features, p->in_features,
                                -in->zero_point);
}

static void es_cmsis_fc_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const es_fc_params_t *p = (const es_fc_params_t *)params;
    const uint32_t i = (uint32_t)(l - m->layers);
    const int32_t *bias = es_cmsis_bias[i];
    cmsis_nn_context ctx = es_cmsis_ctx();
    cmsis_nn_fc_params fc;
    cmsis_nn_quant_params q;
    cmsis_nn_dims in_d, f_d, b_d, out_d;
    if (bias == NULL) {
        es_op_fully_connected.eval(m, l, params);
        return;
    }
#if defined(ARM_MATH_MVEI)
    ctx.buf = es_cmsis_ptr(m->blob, p->bias_offset);
    ctx.size = (int32_t)(p->out_features * 4u);
#endif
    fc.input_offset = -m->tensors[l->input[0]].zero_point;
    fc.filter_offset = 0;
    fc.output_offset = p->output_zero_point;
    fc.activation.min = p->act_min;
    fc.activation.max = p->act_max;
    q.multiplier = es_cmsis_ptr(m->blob, p->mult_offset);
    q.shift = es_cmsis_ptr(m->blob, p->shift_offset);
    q.is_per_channel = es_cmsis_per_channel[i];
    in_d.n = (int32_t)p->batches;
    in_d.h = 1;
    in_d.w = 1;
    in_d.c = (int32_t)p->in_features;
    f_d.n = (int32_t)p->in_features;
    f_d.h = 1;
    f_d.w = 1;
    f_d.c = (int32_t)p->out_features;
    b_d.n = 1;
    b_d.h = 1;
    b_d.w = 1;
    b_d.c = (int32_t)p->out_features;
    out_d.n = (int32_t)p->batches;
    out_d.h = 1;
    out_d.w = 1;
    out_d.c = (int32_t)p->out_features;
    (void)arm_fully_connected_wrapper_s8(&ctx, &fc, &q, &in_d, es_layer_input(m, l), &f_d,
                                         (const int8_t *)(const void *)(m->blob + p->weights_offset), &b_d, bias,
                                         &out_d, es_layer_output(m, l));
}

const es_op_entry_t es_cmsis_op_fully_connected = {
    ES_OP_FULLY_CONNECTED, ES_VARIANT_DEFAULT, ES_OPF_WEIGHTS, sizeof(es_fc_params_t), es_cmsis_fc_check,
    es_cmsis_fc_eval, ES_FIELD_AT(es_fc_params_t, weights_offset), ES_FIELD_AT(es_fc_params_t, scratch_offset),
};

/* ---- ADD, same shapes: arm_elementwise_add_s8 (broadcasting ADD keeps our kernel) ---- */

static void es_cmsis_add_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const es_add_params_t *p = (const es_add_params_t *)params;
    (void)arm_elementwise_add_s8(es_layer_input(m, l), es_layer_input2(m, l), p->input1_offset,
                                 p->input1_multiplier, p->input1_shift, p->input2_offset, p->input2_multiplier,
                                 p->input2_shift, p->left_shift, es_layer_output(m, l), p->output_offset,
                                 p->output_multiplier, p->output_shift, p->act_min, p->act_max,
                                 (int32_t)p->count);
}

static es_status_t es_cmsis_add_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                      const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    return es_op_add.check(c, l, params, in, in2, out);
}

const es_op_entry_t es_cmsis_op_add = {
    ES_OP_ADD, ES_VARIANT_DEFAULT, ES_OPF_INPUT2, sizeof(es_add_params_t), es_cmsis_add_check, es_cmsis_add_eval,
    0, 0,
};

/* ---- AVERAGE_POOL_2D and MAX_POOL_2D: arm_avgpool_s8, arm_max_pool_s8 ---- */

static void es_cmsis_pool_args(const es_pool_params_t *p, cmsis_nn_pool_params *pp, cmsis_nn_dims *in,
                               cmsis_nn_dims *filter, cmsis_nn_dims *out)
{
    pp->stride.w = p->stride_w;
    pp->stride.h = p->stride_h;
    pp->padding.w = p->pad_left;
    pp->padding.h = p->pad_top;
    pp->activation.min = p->act_min;
    pp->activation.max = p->act_max;
    in->n = 1;
    in->h = p->in_h;
    in->w = p->in_w;
    in->c = p->channels;
    filter->n = 1;
    filter->h = p->f_h;
    filter->w = p->f_w;
    filter->c = 1;
    out->n = 1;
    out->h = p->out_h;
    out->w = p->out_w;
    out->c = p->channels;
}

static es_status_t es_cmsis_avgpool_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                          const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    const es_pool_params_t *p = (const es_pool_params_t *)params;
    es_status_t st = es_check_pool(c, l, params, in, in2, out);
    if (st != ES_OK) {
        return st;
    }
    return arm_avgpool_s8_get_buffer_size(p->out_w, p->channels) > (int32_t)sizeof es_cmsis_scratch
               ? ES_ERR_ARENA_TOO_SMALL
               : ES_OK;
}

static void es_cmsis_avgpool_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const cmsis_nn_context ctx = es_cmsis_ctx();
    cmsis_nn_pool_params pp;
    cmsis_nn_dims in_d, f_d, out_d;
    es_cmsis_pool_args((const es_pool_params_t *)params, &pp, &in_d, &f_d, &out_d);
    (void)arm_avgpool_s8(&ctx, &pp, &in_d, es_layer_input(m, l), &f_d, &out_d, es_layer_output(m, l));
}

static void es_cmsis_maxpool_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const cmsis_nn_context ctx = es_cmsis_ctx();
    cmsis_nn_pool_params pp;
    cmsis_nn_dims in_d, f_d, out_d;
    es_cmsis_pool_args((const es_pool_params_t *)params, &pp, &in_d, &f_d, &out_d);
    (void)arm_max_pool_s8(&ctx, &pp, &in_d, es_layer_input(m, l), &f_d, &out_d, es_layer_output(m, l));
}

const es_op_entry_t es_cmsis_op_average_pool_2d = {
    ES_OP_AVERAGE_POOL_2D, ES_VARIANT_DEFAULT, 0u, sizeof(es_pool_params_t), es_cmsis_avgpool_check,
    es_cmsis_avgpool_eval, 0, 0,
};

const es_op_entry_t es_cmsis_op_max_pool_2d = {
    ES_OP_MAX_POOL_2D, ES_VARIANT_DEFAULT, 0u, sizeof(es_pool_params_t), es_check_pool, es_cmsis_maxpool_eval, 0, 0,
};

/* ---- SOFTMAX: arm_softmax_s8 ---- */

static es_status_t es_cmsis_softmax_check(const es_check_t *c, const es_layer_t *l, const void *params,
                                          const es_tensor_t *in, const es_tensor_t *in2, const es_tensor_t *out)
{
    return es_op_softmax.check(c, l, params, in, in2, out);
}

static void es_cmsis_softmax_eval(const es_model_t *m, const es_layer_t *l, const void *params)
{
    const es_softmax_params_t *p = (const es_softmax_params_t *)params;
    arm_softmax_s8(es_layer_input(m, l), (int32_t)p->outer, (int32_t)p->depth, p->input_multiplier,
                   p->input_left_shift, p->diff_min, es_layer_output(m, l));
}

const es_op_entry_t es_cmsis_op_softmax = {
    ES_OP_SOFTMAX, ES_VARIANT_DEFAULT, 0u, sizeof(es_softmax_params_t), es_cmsis_softmax_check,
    es_cmsis_softmax_eval, 0, 0,
};
