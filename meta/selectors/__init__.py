"""Selectors: one interface (``fit``, ``score``, ``rank``, ``select``, ``explain``), many
strategies; each one a scikit-learn estimator."""

from meta.selectors.alors import ALORSSelector
from meta.selectors.base import BudgetNotSupportedError, Selector, Task, as_task
from meta.selectors.explanation import CandidateExplanation, Explanation
from meta.selectors.isac import ISACSelector
from meta.selectors.knn import KNNSelector
from meta.selectors.metainf import MetaInfSelector
from meta.selectors.regression import GradientBoostingSelector, RandomForestSelector
from meta.selectors.simple import OracleSelector, RandomSelector, SingleBestSelector

__all__ = [
    "ALORSSelector",
    "BudgetNotSupportedError",
    "CandidateExplanation",
    "Explanation",
    "GradientBoostingSelector",
    "ISACSelector",
    "KNNSelector",
    "MetaInfSelector",
    "OracleSelector",
    "RandomForestSelector",
    "RandomSelector",
    "Selector",
    "SingleBestSelector",
    "Task",
    "as_task",
    "default_selectors",
]


def default_selectors(random_state: int = 0) -> dict[str, Selector]:
    """The evaluated line-up by ``Selector.name``, in report order (MetaInf first, the
    oracle last)."""
    line_up = [
        MetaInfSelector(random_state=random_state),
        SingleBestSelector(),
        ISACSelector(random_state=random_state),
        ALORSSelector(random_state=random_state),
        RandomForestSelector(random_state=random_state),
        GradientBoostingSelector(random_state=random_state),
        KNNSelector(),
        RandomSelector(random_state=random_state),
        OracleSelector(),
    ]
    return {sel.name: sel for sel in line_up}
