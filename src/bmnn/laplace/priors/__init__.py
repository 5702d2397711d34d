"""The priors of the Gibbs kernel (:mod:`bmnn.laplace.kernel`), one module each: its state, its conditional updates
given theta, and where it has one, a collapsed coordinate step."""
