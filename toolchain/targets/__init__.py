"""Targets: board files, host and Cortex-M builds, QEMU and host runners."""
from toolchain.targets.boards import Board, MemoryRegion, list_boards, load_board

__all__ = ["Board", "MemoryRegion", "list_boards", "load_board"]
