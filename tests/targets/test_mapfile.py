"""targets/mapfile.py: a linker map's flash-resident input sections charged to components."""
from toolchain.targets.mapfile import flash_components

MAP = """Archive member included to satisfy reference by file (symbol)

Memory Configuration

Linker script and memory map

                0x00004000                        _stack_bytes = 0x4000

.vectors        0x00000000       0x40
 *(.vectors)
 .vectors       0x00000000       0x40 /b/obj/b_startup.o

.text           0x00000040      0x200
 .text.es_model_init
                0x00000040       0x80 /w/runtime_c/../obj/w_runtime_c_src_es_model.o
                0x00000040                es_model_init
 .text.es_matvec_csr8_s8
                0x000000c0       0x40 /b/obj/w_runtime_c_src_kernels_es_matvec_csr8_s8.o
 .text.es_conv2d_s8
                0x00000100       0x30 /b/obj/b_runtime_src_ops_es_conv2d_s8.o
 .text.es_csr8_check
                0x00000130       0x10 /b/obj/w_runtime_c_src_formats_es_format_csr8.o
 *fill*         0x00000140        0x2 
 .text.es_port_init
                0x00000142        0xe /b/obj/w_runtime_c_port_cortex_m_es_port_systick.o
 .text.main     0x00000150       0x50 /b/obj/b_main.o
 .text          0x000001a0       0xa0 /usr/lib/arm-none-eabi/lib/libc_nano.a(lib_a-memcpy.o)

.rodata         0x00000240      0x130
 .rodata.es_model_blob
                0x00000240      0x100 /b/obj/out_m_src_model.o
 .rodata.es_model_ops
                0x00000340        0x8 /b/obj/out_m_src_model.o
 .rodata.es_test_inputs
                0x00000348       0x20 /b/obj/b_test_vectors.o
 .rodata.es_op_conv_2d
                0x00000368        0x8 /b/obj/b_runtime_src_ops_es_conv2d_s8.o

.bss            0x20000000      0x500
 .bss.arena     0x20000000      0x500 /b/obj/b_main.o

.debug_info     0x00000000     0xc4fe
 .debug_info    0x00000000      0x100 /b/obj/b_main.o
"""


def test_components_of_a_map(tmp_path):
    path = tmp_path / "firmware.map"
    path.write_text(MAP)
    parts = {c["name"]: (c["kind"], c["bytes"]) for c in flash_components(path, 0x40 + 0x200 + 0x130 + 4)}
    assert parts == {
        "kernels": ("code", 0x40), "ops": ("code", 0x30), "weight formats": ("code", 0x10),
        "interpreter": ("code", 0x80), "port": ("code", 0xe), "main, startup": ("code", 0x40 + 0x50),
        "libc, libgcc": ("code", 0xa0), "model blob": ("data", 0x100), "test inputs": ("data", 0x20),
        "constants": ("data", 0x10), "other": ("other", 0x2 + 4)}
    assert [c["name"] for c in flash_components(path)][:2] == ["kernels", "ops"]  # drawing order
