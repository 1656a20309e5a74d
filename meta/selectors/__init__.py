"""Selectors: one interface (``fit``, ``score``, ``rank``, ``select``), many strategies."""

from meta.selectors.alors import ALORSSelector
from meta.selectors.base import BudgetNotSupportedError, Selector, Task, as_task
from meta.selectors.isac import ISACSelector
from meta.selectors.knn import KNNSelector
from meta.selectors.metainf import MetaInfSelector
from meta.selectors.regression import GradientBoostingSelector, RandomForestSelector
from meta.selectors.simple import OracleSelector, RandomSelector, SingleBestSelector

__all__ = [
    "ALORSSelector",
    "BudgetNotSupportedError",
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
    """The evaluated line-up, in report order (MetaInf first, the oracle last)."""
    return {
        "MetaInf": MetaInfSelector(random_state=random_state),
        "SBS": SingleBestSelector(),
        "ISAC": ISACSelector(random_state=random_state),
        "ALORS": ALORSSelector(random_state=random_state),
        "RandomForest": RandomForestSelector(random_state=random_state),
        "GradientBoosting": GradientBoostingSelector(random_state=random_state),
        "kNN": KNNSelector(),
        "Random": RandomSelector(random_state=random_state),
        "VBS": OracleSelector(),
    }
