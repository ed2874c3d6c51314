"""emfit: mixture models fitted by the EM algorithm.

The package behind *emfit notes*. Every chapter of the book imports it; every
derivation the chapters make is checked against :mod:`emfit.symbolic`.
"""

__version__ = "0.1.0"
from .gaussian import GaussianMixture  # noqa: E402
from .poisson import PoissonRegressionMixture  # noqa: E402
from .bernoulli import BernoulliMixture  # noqa: E402
