r"""Mixtures of Poisson regressions (Problem 3 of the seed).

Model
-----
Observation ``i`` has counts ``y_i``, a covariate row ``x_i`` and an exposure ``e_i``
(offset ``o_i = log e_i``, zero by default). It comes from component ``k`` with
probability ``pi_k``; given the component,

.. math::

    y_i \mid z_i = k \sim \operatorname{Poisson}(\lambda_{ik}), \qquad
    \log \lambda_{ik} = \eta_{ik} = o_i + d_i^\top \beta_k ,

where ``d_i`` is the *design row*: ``d_i = (1, x_i)`` with an intercept, ``d_i = x_i``
without. Without intercept, offset or exposure this is exactly the seed's model
``lambda_ji = exp(beta_j x_i)``.

Parametrisation of theta
------------------------
The module-level functions (:func:`loglik`, :func:`loglik_gradient`,
:func:`q_function`, :func:`q_gradient`, :func:`observed_information`) work on a
*design matrix* ``X`` of shape ``(n, q)`` (build it with :func:`design_matrix`; with
an intercept its first column is ones) and on ``theta`` in one of two forms:

* **flat** (free parameters), a 1-d array of length ``P = (K - 1) + K q``::

      theta = (pi_1, ..., pi_{K-1}, beta_1[0], ..., beta_1[q-1], ..., beta_K[q-1])

  The last weight is not a parameter: ``pi_K = 1 - (pi_1 + ... + pi_{K-1})``. Gradients
  and information matrices are always with respect to this vector; ``K`` is
  recovered from its length and ``q``. :func:`pack_theta` / :func:`unpack_theta`
  convert.
* **structured**, a ``tuple`` ``(weights, coef)`` with ``weights`` of shape ``(K,)``
  (summing to one) and ``coef`` of shape ``(K, q)`` (row ``k`` is ``beta_k``; with an
  intercept ``coef[:, 0]`` is the intercept).

Numerics
--------
Linear predictors are clipped to ``[-ETA_MAX, ETA_MAX]`` (:data:`ETA_MAX` = 300) before
``exp``, so ``lambda`` stays finite (``exp(300) ~ 1.9e130``) even for huge covariates;
inside the bound (any fit that describes real data) the clipping changes nothing.
Mixtures are combined in log space. The Poisson log-probability is computed without
cancellation, as

.. math::

    \log f(y \mid \lambda) = C(y) - D(y, \lambda), \qquad
    D(y, \lambda) = y \log\frac{y}{\lambda} - (y - \lambda) \ge 0, \qquad
    C(y) = y \log y - y - \log y!,

with ``y log(y / lambda) = y log1p((y - lambda) / lambda)`` and ``C`` by Stirling's
series for large ``y``: the naive ``y eta - lambda - log y!`` loses about
``1e-16 * y log y`` to round-off, ~1e-6 per observation for ``y ~ 1e9``, enough to make
a converging EM look non-monotone. When all counts are at most :data:`STABLE_COUNTS`
the naive form is exact to below 1e-9 per observation and twenty times faster, and
every function of the package uses it; one rule in ``emfit.poisson.pmf`` makes
that choice for all of them.

Modules
-------
One module per job; every public name is imported here, so ``from emfit.poisson
import ...`` gives all of them.

* ``pmf``: the log-density of the components, the design matrix and the clipped
  linear predictor;
* ``glm``: the weighted Poisson regression of one component, the M-step solver;
* ``likelihood``: ``theta``, the log-likelihood ``l``, the EM function ``Q`` and their
  gradients;
* ``information``: the Hessian of ``l``, Louis' formula, complete and missing
  information;
* ``concomitant``: ``l``, its gradient and the observed information when the
  mixing weights depend on concomitant covariates;
* ``inference``: the inverse information and the standard errors;
* ``family``: the data container and the family for :func:`emfit.em.fit_em`;
* ``estimator``: :class:`PoissonRegressionMixture`.
"""

from . import pmf
from .estimator import PoissonRegressionMixture
from .family import PoissonRegressionData, PoissonRegressionFamily
from .glm import (
    WeightedPoissonFit,
    fit_weighted_poisson,
    gradient_ascent_poisson,
    weighted_poisson_gradient,
    weighted_poisson_hessian,
    weighted_poisson_loglik,
)
from .concomitant import concomitant_gradient, concomitant_information, concomitant_loglik
from .inference import SingularInformationWarning
from .information import (
    complete_information,
    loglik_hessian,
    missing_information,
    observed_information,
)
from .likelihood import loglik, loglik_gradient, pack_theta, q_function, q_gradient, unpack_theta
from .pmf import component_log_prob, design_matrix, log_pmf_constant

# The constants of pmf, with their documentation here for the API reference (autodoc
# reads a constant's ``#:`` comment in the module it documents).

#: Bound on the absolute value of a linear predictor ``eta = log(lambda)``.
ETA_MAX: float = pmf.ETA_MAX

#: Counts above which the log-density is computed in the cancellation-free form.
STABLE_COUNTS: float = pmf.STABLE_COUNTS

__all__ = [
    "ETA_MAX",
    "STABLE_COUNTS",
    "PoissonRegressionData",
    "PoissonRegressionFamily",
    "PoissonRegressionMixture",
    "SingularInformationWarning",
    "WeightedPoissonFit",
    "complete_information",
    "component_log_prob",
    "concomitant_gradient",
    "concomitant_information",
    "concomitant_loglik",
    "design_matrix",
    "fit_weighted_poisson",
    "gradient_ascent_poisson",
    "log_pmf_constant",
    "loglik",
    "loglik_gradient",
    "loglik_hessian",
    "missing_information",
    "observed_information",
    "pack_theta",
    "q_function",
    "q_gradient",
    "unpack_theta",
    "weighted_poisson_gradient",
    "weighted_poisson_hessian",
    "weighted_poisson_loglik",
]
