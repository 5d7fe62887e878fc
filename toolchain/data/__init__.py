"""Datasets: scikit-learn digits (8x8 and upsampled 28x28) and user .npz files."""
from toolchain.data.datasets import DATASET_NAMES, Dataset, check_matches, load_dataset

__all__ = ["DATASET_NAMES", "Dataset", "check_matches", "load_dataset"]
