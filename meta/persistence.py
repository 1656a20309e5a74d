"""Save and load fitted selectors, with a schema version and metadata.

The file is a joblib pickle of ``{"schema_version", "meta_version", "created",
"selector_class", "params", "metadata", "selector"}``. Loading checks the schema version
so that an old model fails loudly instead of predicting nonsense. Pickles execute code
when loaded: only load files you produced or verified (the backend stores them
content-addressed).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import joblib
from sklearn.utils.validation import check_is_fitted

from meta.selectors.base import Selector

# 2: selectors and featurizer are scikit-learn estimators (fitted scaler, PCA and one-hot
# encoder objects instead of hand-kept arrays); a version-1 file cannot be used.
SCHEMA_VERSION = 2
META_VERSION = "0.1.0"


class IncompatibleModelError(ValueError):
    """The saved model was written with another schema version."""


def save_selector(
    selector: Selector, path: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    check_is_fitted(selector)  # NotFittedError, a ValueError
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "schema_version": SCHEMA_VERSION,
        "meta_version": META_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "selector_class": f"{type(selector).__module__}.{type(selector).__qualname__}",
        "params": selector.get_params(),
        "metadata": {
            "methods": list(selector.methods_),
            "task_cols": list(selector.task_cols_),
            "metric": selector.metric_,
            "lower_is_better": selector.lower_is_better_,
            **(metadata or {}),
        },
        "selector": selector,
    }
    joblib.dump(payload, path, compress=3)
    return path


def load_selector(path: str | Path) -> tuple[Selector, dict[str, Any]]:
    """The selector and the payload's metadata (everything but the object itself)."""
    payload = joblib.load(Path(path))
    version = payload.get("schema_version") if isinstance(payload, dict) else None
    if version != SCHEMA_VERSION:
        raise IncompatibleModelError(
            f"{path}: schema version {version!r}, this code reads {SCHEMA_VERSION}"
        )
    info = {k: v for k, v in payload.items() if k != "selector"}
    return payload["selector"], info
