"""Test set-up: one torch thread (small models run faster on it, and two cores stay shared fairly)."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # the tiny in-test environments (tests/entity_tasks.py)
torch.set_num_threads(1)
