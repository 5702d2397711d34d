"""Write notebooks/mlp_from_scratch.ipynb (run: python notebooks/make_notebook.py). Outputs are not stored."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# An MLP from scratch in PyTorch, on Fashion-MNIST

The classic exercise: implement a 784-256-10 multilayer perceptron **without any `torch.nn` API** — plain tensors
for the parameters, a hand-written ReLU, softmax and cross-entropy, and SGD — train it on Fashion-MNIST and plot
the training progress. This walk-through builds each piece with `bmnn.scratch_mlp`, checks it, and trains.

Set `BMNN_NOTEBOOK_EPOCHS` to change the number of epochs (the material's set-up uses 10)."""),
    new_code_cell("""import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from bmnn.datasets import FASHION_CLASSES, load_fashion_mnist
from bmnn.scratch_mlp import model as M

EPOCHS = int(os.environ.get("BMNN_NOTEBOOK_EPOCHS", "10"))
data = load_fashion_mnist()  # found on disk and verified by SHA-256
{k: v.shape for k, v in data.items()}"""),
    new_markdown_cell("""## The data
Each image is 28 x 28 pixels with values 0..255, flattened row by row into 784 inputs; labels are 0..9."""),
    new_code_cell("""fig, axes = plt.subplots(1, 8, figsize=(10, 1.8))
for ax, img, label in zip(axes, data["x_train"][:8], data["y_train"][:8], strict=True):
    ax.imshow(img.reshape(28, 28), cmap="gray_r")
    ax.set_title(FASHION_CLASSES[label], fontsize=7)
    ax.axis("off")"""),
    new_markdown_cell("""## Parameters: plain tensors
Weights drawn from N(0, 0.01^2), biases zero: `W1` is 784 x 256, `W2` is 256 x 10."""),
    new_code_cell("""gen = torch.Generator().manual_seed(0)
params = M.init_params(gen, "normal", std=0.01)
{k: tuple(v.shape) for k, v in params.items()}"""),
    new_markdown_cell("""## The forward pass and a stable cross-entropy
`H = relu(X W1 + b1)`, `logits = H W2 + b2`. The loss subtracts each row's maximum before exponentiating
(log-sum-exp) and picks each row's **true** class: `-log_softmax[range(n), y]`."""),
    new_code_cell("""x = torch.from_numpy(data["x_train"][:256].astype(np.float32) / 255)
y = torch.from_numpy(data["y_train"][:256].astype(np.int64))
cache = M.forward(params, x)
loss = M.cross_entropy(cache.logits, y)
print(f"initial loss {float(loss):.4f}; log 10 = {np.log(10):.4f}")  # tiny weights: all classes equally likely"""),
    new_markdown_cell("""## Two backward passes that agree
Autograd (`loss.backward()`, as the exercise does) and the hand-written backward: softmax minus one-hot, then the
matrix products."""),
    new_code_cell("""loss_h, g_hand = M.hand_backward(params, cache, y)
loss_a, g_auto, _ = M.autograd_backward(params, x, y)
{k: float((g_hand[k] - g_auto[k]).abs().max()) for k in g_hand}"""),
    new_markdown_cell("""## Training with SGD
`bmnn.scratch_mlp.train` runs the loop: shuffle, step, evaluate on the 10,000 held-out test images every epoch,
and write an atomic checkpoint. The `classic` recipe is the exercise's set-up (lr 0.1, batch 256)."""),
    new_code_cell("""from bmnn.scratch_mlp.train import make_config, train

cfg = make_config("classic", epochs=EPOCHS)
checkpoint = train(cfg, data, "runs/notebook", progress=False)
history = checkpoint["history"]"""),
    new_markdown_cell("## Training progress"),
    new_code_cell("""epochs = [h["epoch"] for h in history]
fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
a.plot(epochs, [h["train_loss"] for h in history], label="train")
a.plot(epochs, [h["test_loss"] for h in history], label="test")
a.set(xlabel="epoch", ylabel="cross-entropy")
a.legend()
b.plot(epochs, [h["train_acc"] for h in history], label="train")
b.plot(epochs, [h["test_acc"] for h in history], label="test")
b.set(xlabel="epoch", ylabel="accuracy")
b.legend()
print(f"test accuracy after {EPOCHS} epochs: {history[-1]['test_acc']:.4f}")"""),
    new_markdown_cell("""## The checkpoint needs nothing but numpy
It stores `W1`, `b1`, `W2`, `b2` and the preprocessing, so anyone can evaluate it."""),
    new_code_cell("""ck = torch.load("runs/notebook/checkpoint.pt", weights_only=True)
pre = ck["preprocess"]
xt = (data["x_test"].astype(np.float64) * pre["scale"] - pre["mean"]) / pre["std"]
logits = np.maximum(xt @ ck["W1"].numpy() + ck["b1"].numpy(), 0) @ ck["W2"].numpy() + ck["b2"].numpy()
accuracy = float(np.mean(logits.argmax(1) == data["y_test"]))
assert abs(accuracy - history[-1]["test_acc"]) < 1e-6
accuracy"""),
]

nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}})
nbformat.write(nb, Path(__file__).with_name("mlp_from_scratch.ipynb"))
