/* Model validation and the I/O accessors. es_model_init checks the header, the tensor table
 * and the arena, then each layer through its op's registry entry (es_registry.h), so kernels
 * index their tables without bounds checks. The interpreter loop is es_invoke.c. */
#include <string.h>

#include "edgesparse.h"
#include "es_registry.h"

static uint32_t es_crc32(const uint8_t *data, uint32_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    uint32_t i;
    for (i = 0; i < len; ++i) {
        int bit;
        crc ^= data[i];
        for (bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static const es_tensor_t *es_tensor_at(const es_check_t *c, uint16_t index)
{
    return index < c->tensor_count ? &c->tensors[index] : (const es_tensor_t *)0;
}

static es_status_t es_check_tensor(const es_check_t *c, const es_tensor_t *t)
{
    uint64_t elems = 1;
    uint32_t d;
    if ((t->type != ES_TYPE_INT8 && t->type != ES_TYPE_FLOAT32) ||
        (t->flags != 0u && t->flags != ES_TENSOR_CONST && t->flags != ES_TENSOR_STREAMED) ||
        (t->flags != 0u && t->type != ES_TYPE_INT8)) {
        return ES_ERR_TYPE;
    }
    if (t->rank == 0 || t->rank > ES_MAX_DIMS) {
        return ES_ERR_SHAPE;
    }
    for (d = 0; d < ES_MAX_DIMS; ++d) {
        elems *= t->dims[d];
    }
    if (elems * (t->type == ES_TYPE_FLOAT32 ? 4u : 1u) != t->bytes || t->bytes == 0) {
        return ES_ERR_SHAPE;
    }
    if ((t->flags & ES_TENSOR_CONST) != 0) {
        return es_table_ok(c, t->arena_offset, t->bytes, 1, 4) ? ES_OK : ES_ERR_TABLE_BOUNDS;
    }
    if ((t->flags & ES_TENSOR_STREAMED) != 0) { /* not in the arena: its rows come from the reader */
        return t->arena_offset == 0u && t->rank == 4u && t->dims[0] == 1u ? ES_OK : ES_ERR_SHAPE;
    }
    if ((uint64_t)t->arena_offset + t->bytes > c->arena_bytes || (t->arena_offset % 4u) != 0) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return ES_OK;
}

/* A generated registry's per-layer map matches the blob's layers, so dispatching by it runs
 * the kernels a lookup by op code would. */
static es_status_t es_check_layer_map(const es_layer_t *layers, uint32_t layer_count)
{
    const es_registry_t *r = &es_registry;
    uint32_t i;
    if (r->layer_ops != 0 && r->layer_count != layer_count) {
        return ES_ERR_OP;
    }
    if (r->layer_formats != 0 && r->layer_count != layer_count) {
        return ES_ERR_FORMAT;
    }
    for (i = 0; i < layer_count; ++i) {
        const es_op_entry_t *e = es_registry_op(r, layers[i].op, layers[i].variant);
        if (r->layer_ops != 0 && (r->layer_ops[i] >= r->op_count || r->ops[r->layer_ops[i]] != e)) {
            return ES_ERR_OP;
        }
        /* no format entry: no weights, or an op that reads its own (e is checked below) */
        if (r->layer_formats != 0 &&
            (r->layer_formats[i] == ES_NO_ENTRY
                 ? layers[i].format != ES_FMT_NONE && (e == 0 || (e->flags & ES_OPF_OWN_FORMAT) == 0)
                 : (r->layer_formats[i] >= r->format_count ||
                    r->formats[r->layer_formats[i]]->format != layers[i].format))) {
            return ES_ERR_FORMAT;
        }
    }
    return ES_OK;
}

/* The generic part of a layer's check (tensors, params record, format, input count, types),
 * then the op's own. */
static es_status_t es_check_layer(const es_check_t *c, const es_layer_t *l)
{
    const es_op_entry_t *e = es_registry_op(&es_registry, l->op, l->variant);
    const es_tensor_t *in = es_tensor_at(c, l->input[0]);
    const es_tensor_t *in2 = es_tensor_at(c, l->input[1]);
    const es_tensor_t *out = es_tensor_at(c, l->output);
    uint32_t flags;
    if (e == 0 || (l->flags & ~(ES_LAYER_RQ_WHOLE | ES_LAYER_RQ_PER_TENSOR | ES_LAYER_BIAS_FOLD)) != 0u ||
        ((l->flags & ES_LAYER_RQ_WHOLE) != 0u && l->op != ES_OP_FULLY_CONNECTED) ||
        ((l->flags & (ES_LAYER_RQ_PER_TENSOR | ES_LAYER_BIAS_FOLD)) != 0u && l->op != ES_OP_FULLY_CONNECTED &&
         !(l->op == ES_OP_CONV_2D && l->variant == ES_VARIANT_DEFAULT))) {
        return ES_ERR_OP;
    }
    flags = e->flags;
    if (in == 0 || out == 0) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    if (!es_table_ok(c, l->params_offset, 1, l->params_bytes, 4)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if ((flags & ES_OPF_WEIGHTS) == 0 && l->format != ES_FMT_NONE) {
        return ES_ERR_FORMAT;
    }
    if (((flags & ES_OPF_INPUT2) != 0) != (l->input[1] != ES_NO_TENSOR) ||
        ((flags & ES_OPF_INPUT2) != 0 && in2 == 0)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    /* a constant only where the op reads one (its second input), a streamed input only where
     * the op reads one (READ_INPUT's first) */
    if (in->flags != ((flags & ES_OPF_STREAMED_IN) != 0 ? ES_TENSOR_STREAMED : 0u) || out->flags != 0 ||
        (in2 != 0 && in2->flags != 0 && ((flags & ES_OPF_CONST2) == 0 || in2->flags != ES_TENSOR_CONST))) {
        return ES_ERR_TYPE;
    }
    if (in->type != ((flags & ES_OPF_FLOAT_IN) != 0 ? ES_TYPE_FLOAT32 : ES_TYPE_INT8) ||
        out->type != ((flags & ES_OPF_FLOAT_OUT) != 0 ? ES_TYPE_FLOAT32 : ES_TYPE_INT8) ||
        (in2 != 0 && in2->type != ES_TYPE_INT8)) {
        return ES_ERR_TYPE;
    }
    if (l->params_bytes != e->params_bytes) {
        return ES_ERR_TABLE_BOUNDS;
    }
    /* the output apart from the inputs, or exactly over input[0] where the op allows it, or
     * starting below input[0] where the op's check verifies by how much */
    if (in->flags == 0u && es_tensors_overlap(in, out) &&
        ((flags & ES_OPF_IN_PLACE) == 0 || in->arena_offset != out->arena_offset || in->bytes != out->bytes) &&
        ((flags & ES_OPF_IN_PLACE_BELOW) == 0 || out->arena_offset > in->arena_offset)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    if (in2 != 0 && in2->flags == 0 && es_tensors_overlap(in2, out)) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    return e->check(c, l, c->blob + l->params_offset, in, in2, out);
}

/* The arena region a checked layer's weight table keeps across inferences (palette tables
 * decoded at init, or their decode tables), 0 bytes when none. */
static void es_kept_region(const es_check_t *c, const es_layer_t *l, uint32_t *offset, uint32_t *bytes)
{
    const es_op_entry_t *e = es_registry_op(&es_registry, l->op, l->variant);
    const es_format_entry_t *f = es_registry_format(&es_registry, l->format);
    *offset = 0;
    *bytes = 0;
    if (e->weights_at != 0 && f != 0 && f->kept != 0) {
        uint32_t weights_offset;
        memcpy(&weights_offset, c->blob + l->params_offset + e->weights_at, 4);
        f->kept(c->blob, weights_offset, offset, bytes);
    }
}

/* Kept regions lie above every tensor and scratch buffer and apart from each other. */
static es_status_t es_check_kept_regions(const es_check_t *c, const es_layer_t *layers,
                                         uint32_t layer_count)
{
    uint64_t top = 0;
    uint32_t i, j;
    for (i = 0; i < c->tensor_count; ++i) {
        const uint64_t end = (uint64_t)c->tensors[i].arena_offset + c->tensors[i].bytes;
        if (c->tensors[i].flags == 0u) {
            top = end > top ? end : top;
        }
    }
    for (i = 0; i < layer_count; ++i) {
        const es_op_entry_t *e = es_registry_op(&es_registry, layers[i].op, layers[i].variant);
        if (e->scratch_at != 0) {
            uint32_t s[2]; /* scratch_offset, scratch_bytes */
            memcpy(s, c->blob + layers[i].params_offset + e->scratch_at, sizeof s);
            if (s[1] != 0u && (uint64_t)s[0] + s[1] > top) {
                top = (uint64_t)s[0] + s[1];
            }
        }
    }
    for (i = 0; i < layer_count; ++i) {
        uint32_t a_offset, a_bytes;
        es_kept_region(c, &layers[i], &a_offset, &a_bytes);
        if (a_bytes == 0u) {
            continue;
        }
        if (a_offset < top) {
            return ES_ERR_TENSOR_BOUNDS;
        }
        for (j = i + 1u; j < layer_count; ++j) {
            uint32_t b_offset, b_bytes;
            es_kept_region(c, &layers[j], &b_offset, &b_bytes);
            if (b_bytes != 0u && (uint64_t)a_offset < (uint64_t)b_offset + b_bytes &&
                (uint64_t)b_offset < (uint64_t)a_offset + a_bytes) {
                return ES_ERR_TENSOR_BOUNDS;
            }
        }
    }
    return ES_OK;
}

es_status_t es_model_init(es_model_t *model, const void *blob, uint32_t blob_bytes, void *arena,
                          uint32_t arena_bytes)
{
    const uint8_t *b = (const uint8_t *)blob;
    const es_model_header_t *h;
    es_check_t c;
    uint32_t i, io_count;
    es_status_t st;

    if (model == 0 || blob == 0 || (arena == 0 && arena_bytes != 0)) {
        return ES_ERR_NULL;
    }
    model->ready = 0;
    if (((uintptr_t)blob % ES_BLOB_ALIGN_BYTES) != 0 || ((uintptr_t)arena % 4u) != 0) {
        return ES_ERR_ALIGNMENT;
    }
    if (blob_bytes < sizeof(es_model_header_t)) {
        return ES_ERR_TRUNCATED;
    }
    h = (const es_model_header_t *)blob;
    if (h->magic != ES_MAGIC) {
        return ES_ERR_MAGIC;
    }
    if (h->version != ES_FORMAT_VERSION || h->header_bytes != sizeof(es_model_header_t)) {
        return ES_ERR_VERSION;
    }
    if (h->blob_bytes > blob_bytes || h->blob_bytes < sizeof(es_model_header_t)) {
        return ES_ERR_TRUNCATED;
    }
    if ((h->flags & ES_FLAG_CRC32) != 0 &&
        es_crc32(b + h->header_bytes, h->blob_bytes - h->header_bytes) != h->crc32) {
        return ES_ERR_CRC;
    }
    if (h->arena_bytes > arena_bytes) {
        return ES_ERR_ARENA_TOO_SMALL;
    }
    c.blob = b;
    c.blob_bytes = h->blob_bytes;
    c.arena = (uint8_t *)arena;
    c.arena_bytes = h->arena_bytes;
    c.tensors = (const es_tensor_t *)(const void *)(b + h->tensors_offset);
    c.tensor_count = h->tensor_count;
    c.io = (const uint16_t *)0;
    c.input_count = 0u;
    io_count = (uint32_t)h->input_count + h->output_count;
    if (!es_table_ok(&c, h->io_offset, io_count, 2, 2) ||
        !es_table_ok(&c, h->tensors_offset, h->tensor_count, sizeof(es_tensor_t), 4) ||
        !es_table_ok(&c, h->layers_offset, h->layer_count, sizeof(es_layer_t), 4)) {
        return ES_ERR_TABLE_BOUNDS;
    }
    if (h->input_count == 0 || h->output_count == 0) {
        return ES_ERR_TENSOR_BOUNDS;
    }
    for (i = 0; i < h->tensor_count; ++i) {
        st = es_check_tensor(&c, &c.tensors[i]);
        if (st != ES_OK) {
            return st;
        }
    }
    {
        const uint16_t *io = (const uint16_t *)(const void *)(b + h->io_offset);
        uint32_t streamed = 0;
        for (i = 0; i < io_count; ++i) {
            if (io[i] >= h->tensor_count) {
                return ES_ERR_TENSOR_BOUNDS;
            }
            /* an input may be streamed; no output, and nothing else, may be a constant */
            if (c.tensors[io[i]].flags != 0 &&
                (i >= h->input_count || c.tensors[io[i]].flags != ES_TENSOR_STREAMED)) {
                return ES_ERR_TYPE;
            }
            streamed += c.tensors[io[i]].flags != 0 ? 1u : 0u;
        }
        model->io = io;
        model->streamed_inputs = streamed;
        c.io = io;
        c.input_count = h->input_count;
    }
    {
        const es_layer_t *layers = (const es_layer_t *)(const void *)(b + h->layers_offset);
        st = es_check_layer_map(layers, h->layer_count);
        if (st != ES_OK) {
            return st;
        }
        for (i = 0; i < h->layer_count; ++i) {
            st = es_check_layer(&c, &layers[i]);
            if (st != ES_OK) {
                return st;
            }
        }
        st = es_check_kept_regions(&c, layers, h->layer_count);
        if (st != ES_OK) {
            return st;
        }
        model->layers = layers;
    }
    model->blob = b;
    model->header = h;
    model->tensors = c.tensors;
    model->arena = (uint8_t *)arena;
    model->arena_bytes = arena_bytes;
    model->reader = (es_input_reader_t)0;
    model->reader_ctx = (void *)0;
    model->ready = 1;
    return ES_OK;
}

static const es_tensor_t *es_io_tensor(const es_model_t *model, uint32_t index, int output)
{
    if (model == 0 || !model->ready) {
        return (const es_tensor_t *)0;
    }
    if (output) {
        if (index >= model->header->output_count) {
            return (const es_tensor_t *)0;
        }
        index += model->header->input_count;
    } else if (index >= model->header->input_count) {
        return (const es_tensor_t *)0;
    }
    return &model->tensors[model->io[index]];
}

const es_tensor_t *es_model_input_tensor(const es_model_t *model, uint32_t index)
{
    return es_io_tensor(model, index, 0);
}

const es_tensor_t *es_model_output_tensor(const es_model_t *model, uint32_t index)
{
    return es_io_tensor(model, index, 1);
}

int8_t *es_model_input(const es_model_t *model, uint32_t index, uint32_t *bytes)
{
    const es_tensor_t *t = es_io_tensor(model, index, 0);
    if (t == 0) {
        return (int8_t *)0;
    }
    if (bytes) {
        *bytes = t->bytes;
    }
    if ((t->flags & ES_TENSOR_STREAMED) != 0) { /* not in the arena: read through the reader */
        return (int8_t *)0;
    }
    return (int8_t *)(model->arena + t->arena_offset);
}

es_status_t es_model_set_input_reader(es_model_t *model, es_input_reader_t reader, void *ctx)
{
    if (model == 0 || reader == 0) {
        return ES_ERR_NULL;
    }
    if (!model->ready) {
        return ES_ERR_NOT_READY;
    }
    model->reader = reader;
    model->reader_ctx = ctx;
    return ES_OK;
}

const int8_t *es_model_output(const es_model_t *model, uint32_t index, uint32_t *bytes)
{
    const es_tensor_t *t = es_io_tensor(model, index, 1);
    if (t == 0) {
        return (const int8_t *)0;
    }
    if (bytes) {
        *bytes = t->bytes;
    }
    return (const int8_t *)(model->arena + t->arena_offset);
}

const char *es_status_name(es_status_t status)
{
    static const char *const names[] = {
        "ES_OK",          "ES_ERR_NULL",          "ES_ERR_ALIGNMENT",    "ES_ERR_TRUNCATED",
        "ES_ERR_MAGIC",   "ES_ERR_VERSION",       "ES_ERR_CRC",          "ES_ERR_ARENA_TOO_SMALL",
        "ES_ERR_TABLE_BOUNDS", "ES_ERR_TENSOR_BOUNDS", "ES_ERR_OP",       "ES_ERR_FORMAT",
        "ES_ERR_SHAPE",   "ES_ERR_INDEX",         "ES_ERR_QUANT",        "ES_ERR_NOT_READY",
        "ES_ERR_HUFFMAN", "ES_ERR_TYPE",         "ES_ERR_NO_READER"};
    if ((unsigned)status < sizeof(names) / sizeof(names[0])) {
        return names[status];
    }
    return "ES_ERR_UNKNOWN";
}
