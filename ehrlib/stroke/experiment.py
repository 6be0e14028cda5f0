"""The steps of chapter 06 as functions: load the encodings, train each network over seeds (the grid chosen
on the first), score networks and baselines in the three views, pair each network with its best baseline,
and run the ablations; the typed results, predictions and models are written from what they return.

Each function does one job and returns plain objects or tables; the notebook shows and discusses them.
Every training stops early on validation F1 under the paper's epoch budget (`StudyConfig`, from the
profile); nothing is chosen on the test split.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ehrlib.evaluation.thresholds import select_f1_threshold
from ehrlib.stroke.autoencoder import load_code_embedding
from ehrlib.stroke.baselines import BASELINES, fit_baselines
from ehrlib.stroke.cohort import build_cohort, split_cohort
from ehrlib.stroke.encoding import EncodingConfig, encode_cohort, fit_encoding_state, prepare_records
from ehrlib.stroke.evaluation import (
    PAPER_AUROC, VIEWS, Scored, evaluate_all_views, paired_difference, view_auroc,
)
from ehrlib.stroke.icd10 import index_embedding, is_stroke_code, random_embedding
from ehrlib.stroke.losses import teoh_loss, teoh_loss_numpy
from ehrlib.stroke.models import (
    MODEL_NAMES, NetworkConfig, TrainConfig, TrainedNetwork, grid, predict, train_network,
)
from ehrlib.stroke.results import (
    Difference, ModelResult, SeedRun, StrokeMetrics, view_result, write_predictions,
)
from ehrlib.stroke.schema import read_stroke_tables

SAMPLES_OF: dict[str, str] = {"diagnosis": "diagnosis", "exam": "exam", "dual": "exam"}
KINDS: tuple[str, ...] = ("diagnosis", "exam", "dual")


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


@dataclass(frozen=True)
class StudyConfig:
    """How chapter 06 trains and scores: the seeds, the networks' training (early stopping under the paper's
    budget; model 3's own cap), the grid size, the ablations' training, the loss-equivalence epochs and the
    bootstrap. `study_config` reads it from a profile."""

    seeds: tuple[int, ...]
    train: TrainConfig
    dual_max_epochs: int
    grid: str
    ablation: TrainConfig
    equivalence_epochs: int
    n_boot: int
    boot_seed: int

    def for_kind(self, kind: str, seed: int) -> TrainConfig:
        """The training settings of one network and seed (model 3 has its own epoch cap)."""
        cap = self.dual_max_epochs if kind == "dual" else self.train.max_epochs
        return dataclasses.replace(self.train, max_epochs=cap, seed=seed)


def epochs_text(n: int) -> str:
    """"1 epoch", "2 epochs": a number of epochs for the prose."""
    return f"{n} epoch{'' if n == 1 else 's'}"


def study_config(profile) -> StudyConfig:
    """The chapter's `StudyConfig` from a profile's `stroke_*` settings."""
    p = profile
    base = TrainConfig(max_epochs=p.stroke_max_epochs, patience=p.stroke_patience, batch_size=p.stroke_batch_size,
                       seed=p.seed, jit_compile=p.stroke_xla)
    ablation = dataclasses.replace(base, max_epochs=p.stroke_ablation_max_epochs, patience=p.stroke_ablation_patience)
    return StudyConfig(seeds=tuple(p.seed + k for k in range(p.stroke_seeds)), train=base,
                       dual_max_epochs=p.stroke_dual_max_epochs, grid=p.stroke_grid, ablation=ablation,
                       equivalence_epochs=p.stroke_equivalence_epochs, n_boot=p.n_bootstrap, boot_seed=p.seed)


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


def input_shapes(data: StrokeData) -> dict[str, tuple[int, int]]:
    """(steps, features) of the diagnosis and exam inputs, for `models.build_network`."""
    blocks = data.encoded["dual"]["train"].blocks
    return {k: blocks[k].dense(slice(0, 1)).shape[1:] for k in ("diagnosis", "exam")}


def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for the page: metric columns to `digits` decimals, columns of seconds to one."""
    return table.round({c: 1 if "seconds" in str(c) else digits for c in table.columns
                        if pd.api.types.is_float_dtype(table[c])})


def select_network(data: StrokeData, points: list[NetworkConfig], tc: TrainConfig, donors: tuple = ()
                   ) -> tuple[TrainedNetwork, pd.DataFrame]:
    """Train every grid point and keep the best on validation F1; the grid table shows the choice.

    Model 3's points get the weights of `donors` (the trained models 1 and 2) before training.
    """
    kind = points[0].kind
    X, y = split_inputs(data, kind, "train")
    Xv, yv = split_inputs(data, kind, "val")
    rows, best = [], None
    for cfg in points:
        net = train_network(cfg, X, y, Xv, yv, tc, donors=donors)
        rows.append({"architecture": cfg.label, "parameters": int(net.model.count_params()),
                     **{k: v for k, v in net.summary().items() if k != "seconds per epoch"}})
        if best is None or net.val_f1 > best.val_f1:
            best = net
    table = rounded(pd.DataFrame(rows))
    table["chosen"] = np.where(table["architecture"] == best.config.label, "yes", "")
    return best, table


def train_over_seeds(data: StrokeData, kind: str, study: StudyConfig, donors: dict | None = None
                     ) -> tuple[list[TrainedNetwork], pd.DataFrame]:
    """One network over every seed: the grid is trained and chosen on validation F1 with the first seed,
    the chosen architecture is then trained with each further seed. Model 3 (`kind` "dual") starts each
    seed from that seed's models 1 and 2 (`donors`: kind -> list of trained networks, in seed order)."""
    base = {k: donors[k][0].config for k in ("diagnosis", "exam")} if donors else None
    pair = (lambda i: (donors["diagnosis"][i].model, donors["exam"][i].model)) if donors else (lambda i: ())
    first, table = select_network(data, grid(kind, study.grid, base=base), study.for_kind(kind, study.seeds[0]),
                                  pair(0))
    runs = [first]
    X, y = split_inputs(data, kind, "train")
    Xv, yv = split_inputs(data, kind, "val")
    for i, seed in enumerate(study.seeds[1:], start=1):
        runs.append(train_network(first.config, X, y, Xv, yv, study.for_kind(kind, seed), donors=pair(i)))
    return runs, table


def training_table(runs: dict[str, list[TrainedNetwork]]) -> pd.DataFrame:
    """One row per network and seed: epochs run, best epoch, what stopped training, the cap, validation
    F1 and the seconds per epoch and in all."""
    return rounded(pd.DataFrame([{"network": MODEL_NAMES[kind], "seed": net.train_config.seed, **net.summary()}
                                 for kind, nets in runs.items() for net in nets]))


def training_curves(runs: dict[str, list[TrainedNetwork]]) -> pd.DataFrame:
    """Validation F1 per epoch of every network and seed (columns network, seed, epoch, val_f1, best), for
    `stroke.plots.training_curves_figure`."""
    return pd.DataFrame([{"network": MODEL_NAMES[kind], "seed": net.train_config.seed, "epoch": e,
                          "val_f1": f1, "best": e == net.best_epoch}
                         for kind, nets in runs.items() for net in nets
                         for e, f1 in enumerate(net.history["val_f1"], start=1)])


def transfer_comparison(data: StrokeData, runs: dict[str, list[TrainedNetwork]], study: StudyConfig) -> pd.DataFrame:
    """Model 3 of the first seed with the weight transfer against the same architecture from random weights
    (same seed and budget): best epoch, epochs run, validation F1, and the largest difference between a
    transferred weight and its donor before training (0: an exact copy)."""
    dual = runs["dual"][0]
    scratch, _ = select_network(data, [dual.config], study.for_kind("dual", study.seeds[0]))
    rows = {"with weight transfer": (dual, max(dual.transferred.values())), "from random weights": (scratch, np.nan)}
    return rounded(pd.DataFrame([{"start": name, "epochs run": net.epochs_run, "best epoch": net.best_epoch,
                                  "validation F1": net.val_f1, "largest difference to the donors before training": diff}
                                 for name, (net, diff) in rows.items()]))


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_").replace("(", "").replace(")", "").replace(",", "").replace("+", "and")


def scored_splits(data: StrokeData, kind: str, scores: dict[str, np.ndarray]) -> dict[str, Scored]:
    """The validation and test samples of an input type with one model's scores."""
    return {s: Scored.build(data.encoded[kind][s], data.cohort, scores[s]) for s in ("val", "test")}


def score_views(scored: dict[str, Scored], predictions: Path, *, n_boot: int, seed: int, prevalence: float
                ) -> tuple[dict, str]:
    """The test views (`ViewResult`s) of one model's scores and the relative path of its predictions CSV."""
    views, rows = evaluate_all_views(scored["val"], scored["test"], n_boot=n_boot, seed=seed, prevalence=prevalence)
    path = write_predictions(predictions, rows)
    return {v: view_result(s) for v, s in views.items()}, str(path.relative_to(path.parent.parent))


def network_result(data: StrokeData, kind: str, runs: list[TrainedNetwork], grid_table: pd.DataFrame,
                   predictions_dir: Path, **kw) -> tuple[ModelResult, list[Scored]]:
    """A network's `ModelResult`: one `SeedRun` per seed (views with intervals, training, predictions file
    `<name>_seed<k>.csv`), the first seed's views as its `views`; with each seed's test `Scored`."""
    name, seed_runs, tests = MODEL_NAMES[kind], [], []
    for net in runs:
        scored = scored_splits(data, kind, {s: predict(net.model, split_inputs(data, kind, s)[0]) for s in ("val", "test")})
        seed = net.train_config.seed
        views, path = score_views(scored, Path(predictions_dir) / f"{_slug(name)}_seed{seed}.csv", **kw)
        training = {**net.summary(), "history": net.history, "train_config": net.train_config.to_dict(),
                    "transferred_layers": net.transferred}
        seed_runs.append(SeedRun(seed, views, training, path))
        tests.append(scored["test"])
    first = runs[0]
    result = ModelResult(name=name, family="network", samples=SAMPLES_OF[kind], views=seed_runs[0].views,
                         architecture=first.config.to_dict(), grid=grid_table.to_dict(orient="records"),
                         training=seed_runs[0].training, predictions=seed_runs[0].predictions, runs=seed_runs)
    return result, tests


def baseline_results(data: StrokeData, samples: str, predictions_dir: Path, **kw
                     ) -> tuple[dict[str, ModelResult], dict[str, dict[str, Scored]]]:
    """Every baseline (fitted on training, seeded with `kw["seed"]`) and the generator's true risk on one
    sample type: their `ModelResult`s and their validation and test `Scored` (for the choice on validation
    and the pairing); `kw` as `score_views` takes it."""
    fitted = fit_baselines(data.encoded[samples]["train"], data.prepared, data.state, seed=kw["seed"])
    scores = {s: fitted.score(data.encoded[samples][s]) for s in ("val", "test")}
    sources = {**{(f"{b} ({samples})", "baseline"): {s: scores[s][b] for s in scores} for b in BASELINES},
               (f"true risk ({samples})", "reference"): {s: data.encoded[samples][s].true_risk for s in scores}}
    models, scored = {}, {}
    for (name, family), by_split in sources.items():
        scored[name] = scored_splits(data, samples, by_split)
        views, path = score_views(scored[name], Path(predictions_dir) / f"{_slug(name)}.csv", **kw)
        models[name] = ModelResult(name=name, family=family, samples=samples, views=views, predictions=path)
    return models, scored


def choose_baseline(scored: dict[str, dict[str, Scored]], names: list[str], view: str) -> tuple[str, dict[str, float]]:
    """The baseline with the highest validation AUROC in `view` (conditional AUROC within matched sets),
    with every candidate's validation AUROC: the choice never sees the test split."""
    val = {n: view_auroc(scored[n]["val"], view) for n in names}
    return max(val, key=lambda n: (val[n], n)), val


def paired_differences(network: str, samples: str, tests: list[Scored], seeds: list[int],
                       baselines: dict[str, dict[str, Scored]], n_boot: int, seed: int
                       ) -> tuple[list[Difference], dict[str, dict[str, float]]]:
    """Each seed's network minus the validation-chosen baseline of its samples, per view, on the same
    matched-set resamples (`evaluation.paired_difference`); with the validation AUROCs behind each choice."""
    names = [n for n in baselines if n.endswith(f"({samples})") and not n.startswith("true risk")]
    out, choice = [], {}
    for view in VIEWS:
        best, choice[view] = choose_baseline(baselines, names, view)
        for s, test in zip(seeds, tests):
            d = paired_difference(test, baselines[best]["test"], view, n_boot=n_boot, seed=seed)
            out.append(Difference(network, best, samples, view, int(s), d.value, d.ci_low, d.ci_high))
    return out, choice


def evaluate_study(data: StrokeData, runs: dict[str, list[TrainedNetwork]], grids: dict[str, pd.DataFrame],
                   study: StudyConfig, *, profile: str, prevalence: float, predictions_dir: Path) -> StrokeMetrics:
    """Score every network seed, baseline and the true risk in the three views, pair each network with its
    best baseline, and return the typed results (ablations and timings are added by the chapter)."""
    kw = dict(n_boot=study.n_boot, seed=study.boot_seed, prevalence=prevalence)
    models, baselines, diffs, choice = {}, {}, [], {}
    for samples in ("diagnosis", "exam"):
        found, scored = baseline_results(data, samples, predictions_dir, **kw)
        models.update(found)
        baselines.update(scored)
    for kind in KINDS:
        result, tests = network_result(data, kind, runs[kind], grids[kind], predictions_dir, **kw)
        models[result.name] = result
        found, choice[SAMPLES_OF[kind]] = paired_differences(result.name, SAMPLES_OF[kind], tests, list(study.seeds),
                                                             baselines, study.n_boot, study.boot_seed)
        diffs.extend(found)
    order = [MODEL_NAMES[k] for k in KINDS] + [n for n in models if n not in MODEL_NAMES.values()]
    return StrokeMetrics(profile=profile, seed=study.seeds[0], paper_auroc=PAPER_AUROC, population_prevalence=prevalence,
                         n_boot=study.n_boot, models={n: models[n] for n in order}, ablations={}, timings_seconds={},
                         seeds=list(study.seeds), differences=diffs, baseline_choice=choice)


def loss_table(seed: int = 0) -> pd.DataFrame:
    """Eq. 9-11 on a small batch, by hand and through the Keras loss: CE, FP_u, FN_u, their sum, the loss
    per sample by hand and by Keras, and 5.2 CE per sample (equal when beta = gamma = 5, alpha = 0.2)."""
    rng = np.random.default_rng(seed)
    y = np.array([0, 0, 1, 0, 1, 0, 0, 0])
    f = rng.dirichlet([2, 1], size=len(y)).astype(np.float32)
    hand = teoh_loss_numpy(y, f, 0.2, 5.0, 5.0)
    keras_value = float(teoh_loss(0.2, 5.0, 5.0)(np.eye(2, dtype=np.float32)[y], f))
    values = {"CE (sum)": hand["ce"], "FP_u": hand["fp_u"], "FN_u": hand["fn_u"], "FP_u + FN_u": hand["fp_u"] + hand["fn_u"],
              "Eq. 11 total / n (by hand)": hand["mean"], "Eq. 11 / n (Keras loss)": keras_value,
              "5.2 CE / n": 5.2 * hand["ce"] / len(y)}
    return pd.DataFrame({"quantity": list(values), "value": np.round(list(values.values()), 6)})


LOSS_SETTINGS: dict[str, dict[str, float]] = {
    "paper (0.2, 5, 5)": {}, "plain CE (1, 0, 0)": dict(alpha=1.0, beta=0.0, gamma=0.0),
    "asymmetric (0.2, 1, 9)": dict(beta=1.0, gamma=9.0)}


def loss_equivalence(data: StrokeData, cfg: NetworkConfig, study: StudyConfig) -> pd.DataFrame:
    """Train `cfg` from one seed for a fixed number of epochs (the last epoch kept) under each of
    `LOSS_SETTINGS`: the largest weight difference to the paper's loss, and the validation F1."""
    X, y = split_inputs(data, cfg.kind, "train")
    Xv, yv = split_inputs(data, cfg.kind, "val")
    fixed = dataclasses.replace(study.train, max_epochs=study.equivalence_epochs, patience=study.equivalence_epochs + 1,
                                seed=study.seeds[0], restore_best=False)
    runs = {name: train_network(cfg, X, y, Xv, yv, dataclasses.replace(fixed, **w)) for name, w in LOSS_SETTINGS.items()}
    ref = runs["paper (0.2, 5, 5)"].model.get_weights()
    return pd.DataFrame([{"loss": name, "largest weight difference to the paper's loss":
                          max(float(np.abs(a - b).max()) for a, b in zip(ref, r.model.get_weights())),
                          "validation F1": r.val_f1} for name, r in runs.items()])


def quick_fit(data: StrokeData, cfg: NetworkConfig, tc: TrainConfig) -> dict[str, float | int | str]:
    """Train one network (ablations) to early stopping and report, on the paper's samples, validation F1,
    the test AUROC and AUPRC, and the test precision, recall and F1 at the F1-optimal validation threshold,
    with the epochs run, the best epoch and what stopped training. The test split is only scored."""
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
            "test AUPRC": float(average_precision_score(yt, p)),
            "test precision": float(precision_score(yt, hat, zero_division=0)), "test recall": float(recall_score(yt, hat)),
            "test F1": float(f1_score(yt, hat)), "epochs run": net.epochs_run, "best epoch": net.best_epoch,
            "stopped by": net.stopped_by, "seconds": time.perf_counter() - start}


def _arms(fits: dict[str, dict], label: str) -> pd.DataFrame:
    """The ablation table: one row per arm, its name in the first column."""
    return rounded(pd.DataFrame([{label: name, **fit} for name, fit in fits.items()]))


def loss_ablation(data: StrokeData, cfg: NetworkConfig, study: StudyConfig) -> tuple[pd.DataFrame, dict]:
    """Model 2 under the paper's loss weights and two asymmetric settings (class weighting), each trained
    to early stopping; returns the table and the paper arm's fit (reused by the other ablations)."""
    arms = {"alpha 0.2, beta 5, gamma 5 (paper)": (0.2, 5.0, 5.0), "alpha 0.2, beta 1, gamma 9": (0.2, 1.0, 9.0),
            "alpha 0.2, beta 9, gamma 1": (0.2, 9.0, 1.0)}
    fits = {name: quick_fit(data, cfg, dataclasses.replace(study.ablation, alpha=a, beta=b, gamma=g))
            for name, (a, b, g) in arms.items()}
    return _arms(fits, "loss weights"), fits["alpha 0.2, beta 5, gamma 5 (paper)"]


def missing_ablation(profile, data: StrokeData, cfg: NetworkConfig, study: StudyConfig, reference: dict
                     ) -> pd.DataFrame:
    """Model 2 with each strategy for missing exam values (the data re-encoded; `reference` is the fit of
    the strategy `data` already uses)."""
    fits = {}
    for strategy in ("roll_forward_gender_mean", "roll_forward", "absent_indicator"):
        if strategy == data.config.missing_strategy:
            fits[strategy] = reference
            continue
        d = load_stroke_data(profile, embedding=data.embedding, config=EncodingConfig(missing_strategy=strategy))
        fits[strategy] = quick_fit(d, cfg, study.ablation)
    return _arms(fits, "missing values")


def embedding_ablation(profile, data: StrokeData, cfg: NetworkConfig, study: StudyConfig) -> pd.DataFrame:
    """Model 1 with the autoencoder's code vectors, a seeded random projection of the one-hot codes, and
    an embedding of the same width learned end to end from the training labels."""
    vocabulary = data.embedding.vocabulary
    rand = load_stroke_data(profile, embedding=random_embedding(vocabulary, data.embedding.dim, seed=profile.seed))
    learned = load_stroke_data(profile, embedding=index_embedding(vocabulary))
    learned_cfg = dataclasses.replace(cfg, learned_embedding=len(vocabulary), learned_dim=data.embedding.dim)
    fits = {"autoencoder (Eq. 7)": quick_fit(data, cfg, study.ablation),
            "random 32-d projection": quick_fit(rand, cfg, study.ablation),
            "32-d embedding learned end to end": quick_fit(learned, learned_cfg, study.ablation)}
    return _arms(fits, "code vectors")


def controls_ablation(profile, data: StrokeData, cfg: NetworkConfig, study: StudyConfig, reference: dict
                      ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Model 2 on the paper's controls (never a stroke) and on controls stroke-free only up to the index
    date; with the number of such controls with a later stroke and of their positive exam samples."""
    loose = load_stroke_data(profile, embedding=data.embedding, controls="until_index")
    cases = lambda d: int((d.cohort["role"] == "case").sum())  # noqa: E731
    fits = {"never a stroke (paper)": {**reference, "cases": cases(data)},
            "stroke-free up to the index date": {**quick_fit(loose, cfg, study.ablation), "cases": cases(loose)}}
    strokes = data.tables.diagnoses.loc[is_stroke_code(data.tables.diagnoses["icd10"]), "patient_id"]
    later = loose.cohort.loc[loose.cohort["role"] == "control", "patient_id"].isin(strokes)
    exam = loose.encoded["exam"]
    positives = sum(int(exam[k].y[exam[k].role == "control"].sum()) for k in ("train", "val", "test"))
    return _arms(fits, "controls"), {"later_stroke_controls": int(later.sum()), "positive_control_samples": positives}


__all__ = ["KINDS", "LOSS_SETTINGS", "SAMPLES_OF", "StrokeData", "StudyConfig", "baseline_results", "choose_baseline",
           "controls_ablation", "embedding_ablation", "epochs_text", "evaluate_study", "input_shapes", "load_stroke_data",
           "loss_ablation", "loss_equivalence", "loss_table", "missing_ablation", "network_result",
           "paired_differences", "quick_fit", "rounded", "score_views", "scored_splits", "select_network", "split_inputs",
           "study_config", "train_over_seeds", "training_curves", "training_table", "transfer_comparison"]
