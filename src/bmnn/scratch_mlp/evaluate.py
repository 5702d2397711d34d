"""Evaluate a job-4 checkpoint on the test images, using only what the checkpoint holds."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bmnn.scratch_mlp import model as M
from bmnn.scratch_mlp.runs import CheckpointError, preprocess


def evaluate_checkpoint(ck: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Accuracy, mean cross-entropy, predictions, class probabilities (softmax, float64) and the confusion
    matrix on ``arrays``' test set."""
    xt = torch.from_numpy(preprocess(arrays["x_test"].reshape(-1, M.N_IN), ck["preprocess"]))
    y = torch.from_numpy(arrays["y_test"].astype(np.int64))
    params = {k: ck[k].float() for k in M.PARAMS}
    logits = M.predict_logits(params, xt)
    if not bool(torch.isfinite(logits).all()):
        raise CheckpointError("the checkpoint's network gives infinite or NaN outputs on the test images (its "
                              "weights or preprocessing are out of any trained model's range)")
    accuracy, pred, counts = M.scores(logits, y)
    return {"accuracy": accuracy, "loss": float(M.cross_entropy(logits, y)), "pred": pred.numpy(),
            "confusion": counts.numpy().astype(np.int64), "proba": M.log_softmax(logits.double()).exp().numpy()}
