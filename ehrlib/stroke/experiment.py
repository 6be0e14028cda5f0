"""The steps of chapter 06 as functions: load the encodings, select each network on its grid, score models
and baselines in the three views, and write the typed results, predictions and models.

Each function does one job and returns plain objects; the notebook shows and discusses them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ehrlib.evaluation.thresholds import select_f1_threshold
from ehrlib.stroke.autoencoder import load_code_embedding
from ehrlib.stroke.cohort import build_cohort, split_cohort
from ehrlib.stroke.encoding import EncodingConfig, encode_cohort, fit_encoding_state, prepare_records
from ehrlib.stroke.evaluation import Scored, evaluate_all_views
from ehrlib.stroke.models import NetworkConfig, TrainConfig, TrainedNetwork, predict, train_network
from ehrlib.stroke.results import ModelResult, view_result, write_predictions
from ehrlib.stroke.schema import read_stroke_tables

SAMPLES_OF: dict[str, str] = {"diagnosis": "diagnosis", "exam": "exam", "dual": "exam"}


@dataclass
class StrokeData:
    """Everything chapter 06 trains on: tables, cohort, the encodings and what produced them."""

    tables: object
    cohort: pd.DataFrame
    embedding: object
    prepared: object
    state: object
    encoded: dict
    config: object


def load_stroke_data(profile, embedding=None, config=None, controls: str = "never") -> StrokeData:
    """Read the tables, rebuild the cohort (as chapter 05) and encode it with the saved autoencoder embedding
    (or `embedding`), the encoding `config` and the control rule `controls`."""
    config = config or EncodingConfig()
    tables = read_stroke_tables(profile.stroke_dir)
    cohort = split_cohort(build_cohort(tables, seed=profile.seed, controls=controls), seed=profile.seed)
    embedding = embedding or load_code_embedding(profile.stroke_results_dir / "stroke")
    prepared = prepare_records(tables, cohort, config)
    state = fit_encoding_state(prepared, config)
    encoded = encode_cohort(tables, cohort, embedding, config, state=state, prepared=prepared)
    return StrokeData(tables, cohort, embedding, prepared, state, encoded, config)


def split_inputs(data: StrokeData, kind: str, split: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Dense inputs and labels of one input type ("diagnosis", "exam", "dual") and split."""
    s = data.encoded[kind][split]
    return s.inputs(), s.y


def select_network(data: StrokeData, points: list[NetworkConfig], tc: TrainConfig, donors: dict | None = None
                   ) -> tuple[TrainedNetwork, pd.DataFrame]:
    """Train every grid point and keep the best on validation F1; the grid table shows the choice.

    Model 3's points get the weights of the chosen models 1 and 2 (`donors`) before training.
    """
    kind = points[0].kind
    X, y = split_inputs(data, kind, "train")
    Xv, yv = split_inputs(data, kind, "val")
    rows, best = [], None
    for cfg in points:
        dn = tuple(donors[k].model for k in ("diagnosis", "exam")) if donors else ()
        net = train_network(cfg, X, y, Xv, yv, tc, donors=dn)
        rows.append({"architecture": cfg.label, "parameters": int(net.model.count_params()),
                     "epochs run": len(net.history["loss"]), "best epoch": net.best_epoch,
                     "validation F1": net.val_f1, "seconds": net.seconds})
        if best is None or net.val_f1 > best.val_f1:
            best = net
    table = pd.DataFrame(rows)
    table["chosen"] = table["architecture"] == best.config.label
    return best, table


def network_scores(data: StrokeData, net: TrainedNetwork) -> dict[str, np.ndarray]:
    """The network's stroke probability for the validation and test samples of its input type."""
    kind = net.config.kind
    return {s: predict(net.model, split_inputs(data, kind, s)[0]) for s in ("val", "test")}


def score_model(data: StrokeData, name: str, family: str, kind: str, scores: dict[str, np.ndarray], *,
                n_boot: int, seed: int, prevalence: float, predictions_dir: Path) -> ModelResult:
    """Evaluate one model's validation/test scores in the three views; write its test predictions CSV."""
    val = Scored.build(data.encoded[kind]["val"], data.cohort, scores["val"])
    test = Scored.build(data.encoded[kind]["test"], data.cohort, scores["test"])
    views, rows = evaluate_all_views(val, test, n_boot=n_boot, seed=seed)
    slug = name.lower().replace(" ", "_").replace("(", "").replace(")", "").replace(",", "").replace("+", "and")
    path = write_predictions(Path(predictions_dir) / f"{slug}.csv", rows)
    return ModelResult(name=name, family=family, samples=SAMPLES_OF[kind],
                       views={v: view_result(s, prevalence) for v, s in views.items()},
                       predictions=str(path.relative_to(Path(predictions_dir).parent)))


def network_result(data: StrokeData, name: str, net: TrainedNetwork, grid_table: pd.DataFrame, **kw) -> ModelResult:
    """`score_model` for a network, with its architecture, grid and training history."""
    result = score_model(data, name, "network", net.config.kind, network_scores(data, net), **kw)
    result.architecture = net.config.to_dict()
    result.grid = grid_table.to_dict(orient="records")
    result.training = {"history": net.history, "best_epoch": net.best_epoch, "seconds": net.seconds,
                       "epoch_seconds": net.epoch_seconds, "train_config": asdict(net.train_config),
                       "transferred_layers": net.transferred}
    return result


def quick_fit(data: StrokeData, cfg: NetworkConfig, tc: TrainConfig) -> dict[str, float]:
    """Train one network (ablations) and report, on the paper's samples, validation F1 and the test
    AUROC, AUPRC, precision, recall and F1 at the F1-optimal validation threshold, with the best epoch and
    seconds. The test split is only scored, never used to choose."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    start = time.perf_counter()
    X, y = split_inputs(data, cfg.kind, "train")
    Xv, yv = split_inputs(data, cfg.kind, "val")
    net = train_network(cfg, X, y, Xv, yv, tc)
    threshold = select_f1_threshold(yv, predict(net.model, Xv))["threshold"]
    Xt, yt = split_inputs(data, cfg.kind, "test")
    p = predict(net.model, Xt)
    hat = (p >= threshold).astype(int)
    return {"validation F1": net.val_f1, "test AUROC": float(roc_auc_score(yt, p)),
            "test AUPRC": float(average_precision_score(yt, p)), "test precision": float(precision_score(yt, hat,
                                                                                                      zero_division=0)),
            "test recall": float(recall_score(yt, hat)), "test F1": float(f1_score(yt, hat)),
            "best epoch": float(net.best_epoch), "seconds": time.perf_counter() - start}


__all__ = ["SAMPLES_OF", "StrokeData", "load_stroke_data", "network_result", "network_scores", "quick_fit",
           "score_model", "select_network", "split_inputs"]
