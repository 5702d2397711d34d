"""Job 4: a 784-256-10 MLP written from scratch in PyTorch, without PyTorch's nn, nn.functional or optim packages."""
