"""The material's sub-questions answered by computation: one module per job, functions return records."""

from __future__ import annotations

from bmnn.experiments.records import Section


def sections(quick: bool = False) -> list[Section]:
    """Every job's section, in the material's order."""
    from bmnn.experiments import gaussian

    return [
        Section(
            job=1,
            title="Problem 1 — MLE, MAP and the full posterior predictive",
            setting=("x = mu + eps with eps ~ N(0, sigma^2), sigma known; prior mu ~ N(0, tau^2); data "
                     "D = {x_1, ..., x_n} i.i.d. The material gives the full posterior predictive below."),
            formulas=[r"x\mid D \sim \mathcal{N}\left(\frac{\sum_i x_i}{n+\sigma^2/\tau^2},\; "
                      r"\left(\frac{n}{\sigma^2}+\frac{1}{\tau^2}\right)^{-1}+\sigma^2\right)"],
            records=gaussian.run(quick=quick),
        ),
    ]
