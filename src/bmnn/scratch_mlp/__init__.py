"""Job 4: a 784-256-10 MLP written from scratch in PyTorch (no torch.nn, torch.nn.functional or torch.optim)."""
