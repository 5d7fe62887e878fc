/* libFuzzer target "format_<name>": the fuzzed bytes are the weight table of one
 * FULLY_CONNECTED layer in weight format ES_FUZZ_FORMAT (-D at build time). The rest of
 * the blob (header, tensors, layer record, params, bias and requantization tables) is a
 * fixed valid skeleton built here, so mutations land on the table's header, row counts,
 * index stream and values, and whatever es_model_init accepts reaches the format's kernel.
 *
 * The table starts at blob offset FUZZ_TABLE_OFFSET and is FUZZ_ROWS x FUZZ_COLS
 * (out_features x in_features); the seed corpus is encoded for exactly that position and
 * shape (tests/fuzz/es_fuzz_driver.py reads the three defines below). Blob and arena are heap
 * blocks of exactly their declared size, so ASan sees any access past either. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgesparse.h"
#include "es_matvec.h"

#ifndef ES_FUZZ_FORMAT
#error "build with -DES_FUZZ_FORMAT=<es_format_t value>"
#endif

#define FUZZ_TABLE_OFFSET 512u
#define FUZZ_ROWS 8u
#define FUZZ_COLS 300u
#define FUZZ_TABLE_MAX_BYTES (16u * 1024u)
/* Arena region above the tensors and scratch for formats that keep decoded data there
 * (palette with Huffman coding): the seeds' tables point their ram_offset here. */
#define FUZZ_RAM_OFFSET 4096u
#define FUZZ_RAM_MAX_BYTES (12u * 1024u)

/* Everything before the table, laid out as edgesparse.h describes. */
#define FUZZ_IO_OFFSET ((uint32_t)sizeof(es_model_header_t))
#define FUZZ_TENSORS_OFFSET (FUZZ_IO_OFFSET + 4u)
#define FUZZ_LAYERS_OFFSET (FUZZ_TENSORS_OFFSET + 2u * (uint32_t)sizeof(es_tensor_t))
#define FUZZ_PARAMS_OFFSET (FUZZ_LAYERS_OFFSET + (uint32_t)sizeof(es_layer_t))
#define FUZZ_BIAS_OFFSET (FUZZ_PARAMS_OFFSET + (uint32_t)sizeof(es_fc_params_t))
#define FUZZ_MULT_OFFSET (FUZZ_BIAS_OFFSET + 4u * FUZZ_ROWS)
#define FUZZ_SHIFT_OFFSET (FUZZ_MULT_OFFSET + 4u * FUZZ_ROWS)
#define FUZZ_PREFIX_END (FUZZ_SHIFT_OFFSET + 4u * FUZZ_ROWS)

typedef char fuzz_prefix_fits[(FUZZ_PREFIX_END <= FUZZ_TABLE_OFFSET) ? 1 : -1];
typedef char fuzz_ram_above_scratch[(8u + FUZZ_COLS + FUZZ_ROWS + 24u * (FUZZ_COLS / 4u) <=
                                     FUZZ_RAM_OFFSET) ? 1 : -1];

static void fuzz_skeleton(uint8_t *blob, uint32_t table_bytes, uint32_t *arena_bytes)
{
    es_model_header_t h;
    es_tensor_t t[2];
    es_layer_t l;
    es_fc_params_t p;
    const uint16_t io[2] = {0u, 1u};
    const uint32_t out_offset = (FUZZ_COLS + 3u) & ~3u;
    const uint32_t scratch_offset = out_offset + ((FUZZ_ROWS + 3u) & ~3u);
    const uint32_t scratch_bytes = es_matvec_scratch_bytes((uint8_t)ES_FUZZ_FORMAT, FUZZ_COLS);
    uint32_t r;

    memset(blob, 0, FUZZ_TABLE_OFFSET);
    memset(&h, 0, sizeof(h));
    h.magic = ES_MAGIC;
    h.version = (uint16_t)ES_FORMAT_VERSION;
    h.header_bytes = (uint16_t)sizeof(h);
    h.blob_bytes = FUZZ_TABLE_OFFSET + table_bytes;
    h.arena_bytes = FUZZ_RAM_OFFSET + FUZZ_RAM_MAX_BYTES;
    h.io_offset = FUZZ_IO_OFFSET;
    h.tensors_offset = FUZZ_TENSORS_OFFSET;
    h.layers_offset = FUZZ_LAYERS_OFFSET;
    h.tensor_count = 2u;
    h.layer_count = 1u;
    h.input_count = 1u;
    h.output_count = 1u;
    memcpy(blob, &h, sizeof(h));
    memcpy(blob + FUZZ_IO_OFFSET, io, sizeof(io));

    memset(t, 0, sizeof(t));
    t[0].bytes = FUZZ_COLS;
    t[1].arena_offset = out_offset;
    t[1].bytes = FUZZ_ROWS;
    for (r = 0; r < 2u; ++r) {
        t[r].dims[0] = t[r].dims[1] = t[r].dims[2] = 1u;
        t[r].dims[3] = (uint16_t)t[r].bytes;
        t[r].rank = 2u;
        t[r].type = ES_TYPE_INT8;
        t[r].scale = 0.05f;
    }
    memcpy(blob + FUZZ_TENSORS_OFFSET, t, sizeof(t));

    memset(&l, 0, sizeof(l));
    l.op = ES_OP_FULLY_CONNECTED;
    l.format = (uint8_t)ES_FUZZ_FORMAT;
    l.input[0] = 0u;
    l.input[1] = ES_NO_TENSOR;
    l.output = 1u;
    l.params_offset = FUZZ_PARAMS_OFFSET;
    l.params_bytes = (uint32_t)sizeof(p);
    memcpy(blob + FUZZ_LAYERS_OFFSET, &l, sizeof(l));

    memset(&p, 0, sizeof(p));
    p.in_features = FUZZ_COLS;
    p.out_features = FUZZ_ROWS;
    p.batches = 1u;
    p.output_zero_point = -3;
    p.act_min = -128;
    p.act_max = 127;
    p.bias_offset = FUZZ_BIAS_OFFSET;
    p.mult_offset = FUZZ_MULT_OFFSET;
    p.shift_offset = FUZZ_SHIFT_OFFSET;
    p.weights_offset = FUZZ_TABLE_OFFSET;
    p.weights_bytes = table_bytes;
    p.scratch_offset = scratch_offset;
    p.scratch_bytes = scratch_bytes;
    memcpy(blob + FUZZ_PARAMS_OFFSET, &p, sizeof(p));

    for (r = 0; r < FUZZ_ROWS; ++r) {
        /* extreme requantization parameters on some rows: saturation paths in the kernels;
         * rows 3 and 4 carry the largest bias es_model_init accepts (no room for more than
         * FUZZ_COLS products of 128 * 128), so a table that makes a kernel do more products
         * than that overflows the accumulator and UBSan reports it */
        const int32_t edge = (int32_t)(INT32_MAX - FUZZ_COLS * 128 * 128);
        const int32_t bias = r == 3u ? edge : (r == 4u ? -edge : (int32_t)(r * 1000u) - 4000);
        const int32_t mult = r == 0u ? INT32_MAX : (int32_t)(0x40000000u + r * 0x01000000u);
        const int32_t shift = r == 1u ? 30 : (r == 2u ? -31 : -(int32_t)r);
        memcpy(blob + FUZZ_BIAS_OFFSET + 4u * r, &bias, 4);
        memcpy(blob + FUZZ_MULT_OFFSET + 4u * r, &mult, 4);
        memcpy(blob + FUZZ_SHIFT_OFFSET + 4u * r, &shift, 4);
    }
    *arena_bytes = h.arena_bytes;
}

/* ES_FUZZ_EXPECT_OK=1 in the environment: abort on any input init rejects (the test that
 * replays the seed corpus uses it to check every seed is a valid table). */
static int expect_ok(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *v = getenv("ES_FUZZ_EXPECT_OK");
        cached = v != NULL && v[0] == '1';
    }
    return cached;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    es_model_t model;
    es_status_t st;
    uint8_t *blob;
    void *arena;
    uint32_t arena_bytes = 0, n = 0, i;
    int8_t *in;

    if (size > FUZZ_TABLE_MAX_BYTES) {
        return 0;
    }
    blob = (uint8_t *)malloc(FUZZ_TABLE_OFFSET + size);
    if (blob == NULL) {
        return 0;
    }
    fuzz_skeleton(blob, (uint32_t)size, &arena_bytes);
    memcpy(blob + FUZZ_TABLE_OFFSET, data, size);
    arena = calloc(1, arena_bytes);
    if (arena == NULL) {
        free(blob);
        return 0;
    }
    st = es_model_init(&model, blob, FUZZ_TABLE_OFFSET + (uint32_t)size, arena, arena_bytes);
    if (strcmp(es_status_name(st), "ES_ERR_UNKNOWN") == 0 || (st != ES_OK && expect_ok())) {
        abort();
    }
    if (st == ES_OK) {
        in = es_model_input(&model, 0, &n);
        if (in == NULL || n != FUZZ_COLS) {
            abort();
        }
        for (i = 0; i < n; ++i) { /* odd-sized inputs: all -128, so a row's products share
                                     their weights' signs and sums reach their extremes */
            in[i] = (size & 1u) ? (int8_t)-128 : (int8_t)(uint8_t)(i * 37u + 128u);
        }
        if (es_model_invoke(&model) != ES_OK) {
            abort();
        }
    }
    free(arena);
    free(blob);
    return 0;
}
