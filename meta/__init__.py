"""meta: choosing the inference acceleration method for a (model, hardware, workload) task.

A pure library (numpy, scikit-learn, torch): no chain, no Celery. Public API:

Data
    PerformanceTable            long-format CSV/DataFrame -> tasks x methods matrix
                                (median of repeats, missing cells, higher-is-better)
    make_rule_table, make_random_table
                                synthetic tables with known ground truth (meta.synthetic)
Features
    MetaFeaturizer              task/method meta-features: sentence embeddings of
                                descriptions + numeric descriptors (meta.descriptors)
    SentenceEmbedder            all-MiniLM-L6-v2 (offline package), on-disk cache
    HashingEmbedder             deterministic stand-in, for unit tests only
Selectors (scikit-learn estimators: fit(table, features); rank(task);
select(task, budget=None); explain(task, budget=None))
    MetaInfSelector             the paper's method (see meta.selectors.metainf)
    SingleBestSelector, RandomSelector, OracleSelector (VBS, is_oracle: evaluation only),
    ISACSelector, ALORSSelector, RandomForestSelector, GradientBoostingSelector,
    KNNSelector, default_selectors()
    Task                        a task's column values + available methods, price, work
    Explanation, CandidateExplanation
                                what explain() returns: per method the predicted metric,
                                runtime, cost and budget fit; the choice and its reason
Evaluation
    evaluate, EvaluationResult, Budgets   leave-one-group-out CV and its metrics
                                          (evaluate(..., candidate="MetaInf"))
    write_plots                           heatmap + per-selector bars (meta.plots)
Persistence
    save_selector, load_selector          versioned joblib files (meta.persistence)

Names load lazily, so ``import meta`` stays cheap for callers that only need features.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PerformanceTable": "meta.table",
    "task_key": "meta.table",
    "make_rule_table": "meta.synthetic",
    "make_random_table": "meta.synthetic",
    "MetaFeaturizer": "meta.features",
    "SentenceEmbedder": "meta.embeddings",
    "HashingEmbedder": "meta.embeddings",
    "Selector": "meta.selectors",
    "Task": "meta.selectors",
    "BudgetNotSupportedError": "meta.selectors",
    "Explanation": "meta.selectors",
    "CandidateExplanation": "meta.selectors",
    "MetaInfSelector": "meta.selectors",
    "SingleBestSelector": "meta.selectors",
    "RandomSelector": "meta.selectors",
    "OracleSelector": "meta.selectors",
    "ISACSelector": "meta.selectors",
    "ALORSSelector": "meta.selectors",
    "RandomForestSelector": "meta.selectors",
    "GradientBoostingSelector": "meta.selectors",
    "KNNSelector": "meta.selectors",
    "default_selectors": "meta.selectors",
    "evaluate": "meta.evaluation",
    "EvaluationResult": "meta.evaluation",
    "Budgets": "meta.evaluation",
    "write_plots": "meta.plots",
    "save_selector": "meta.persistence",
    "load_selector": "meta.persistence",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'meta' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
