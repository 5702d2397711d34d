"""Job 4's data augmentation: pixel moves (every view precomputed once, so an epoch's augmentation is one gather
fused with the shuffle), flips and cutout. Images are rows of ``N_IN`` pixels (row-major ``SIDE x SIDE``; both from
:mod:`bmnn.scratch_mlp.model`)."""

from __future__ import annotations

import torch

from bmnn.scratch_mlp.model import N_IN, SIDE


def shift_offsets(radius: int = 1, cross: bool = False) -> list[tuple[int, int]]:
    """The ``(down, right)`` pixel shifts of the augmentation: every shift of at most ``radius`` in each direction
    (a ``(2 radius + 1)^2`` square, diagonal moves included), or with ``cross`` only the image itself and its four
    moves of ``radius`` pixels along an axis."""
    if cross:
        return [(radius, 0), (0, radius), (0, 0), (0, -radius), (-radius, 0)]
    return [(dy, dx) for dy in range(radius, -radius - 1, -1) for dx in range(radius, -radius - 1, -1)]


def augmented_views(x: torch.Tensor, background: float, flips: bool = True, radius: int = 1,
                    cross: bool = False) -> torch.Tensor:
    """Every view of every image: each shift of :func:`shift_offsets` (uncovered pixels filled with the
    background), and with ``flips`` each of them also horizontally flipped; shaped ``(views * n, N_IN)``, view-major.
    Built once, so an epoch's augmentation is a single gather, fused with the shuffle."""
    n, offsets = x.shape[0], shift_offsets(radius, cross)
    views = torch.empty(((2 if flips else 1) * len(offsets), n, N_IN), dtype=x.dtype, device=x.device)
    padded = torch.full((n, SIDE + 2 * radius, SIDE + 2 * radius), background, dtype=x.dtype, device=x.device)
    for f in range(2 if flips else 1):
        img = x.view(n, SIDE, SIDE)
        padded[:, radius:radius + SIDE, radius:radius + SIDE] = img.flip(2) if f else img
        for i, (dy, dx) in enumerate(offsets):  # a view shifted down by dy shows the padded image from row -dy
            top, left = radius - dy, radius - dx
            views[f * len(offsets) + i] = padded[:, top:top + SIDE, left:left + SIDE].reshape(n, N_IN)
    return views.view(-1, N_IN)


def cutout(x: torch.Tensor, side: int, generator: torch.Generator, background: float) -> torch.Tensor:
    """Set a random ``side x side`` square of each image (rows of ``x``) to the background; the square may hang
    over the edge, as in the usual cutout."""
    n = x.shape[0]
    top = torch.randint(-side + 1, SIDE, (n, 1, 1), generator=generator, device=x.device)
    left = torch.randint(-side + 1, SIDE, (n, 1, 1), generator=generator, device=x.device)
    pos = torch.arange(SIDE, device=x.device)
    rows = (pos[None, :, None] >= top) & (pos[None, :, None] < top + side)
    cols = (pos[None, None, :] >= left) & (pos[None, None, :] < left + side)
    return x.masked_fill((rows & cols).view(n, N_IN), background)
