"""Chapter 01's tour of the synthetic ICU generator: a small demo cohort, the same patients with one realism
feature switched off at a time (`ablate`), the example patients the figures follow, and the numbers the prose
reads, each as a dict for `ehrlib.booktext.glue_values` under the names the chapter uses. Directions the prose
states (treated above untreated, labels unchanged, observations identical) are words chosen here from the
numbers (`direction`, `same_word`, `interval_word`), so a sentence cannot outlive its numbers. Nothing here
draws a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ehrlib.icu.describe import care_summary, clock_profile_range, fluctuation_correlation, window_means
from ehrlib.icu.episodes import EpisodeSet
from ehrlib.icu.layout import SPLITS
from ehrlib.icu.risk import risk_model_text
from ehrlib.icu.schema import VARIABLES
from ehrlib.icu.synth import FLUID_NONRESPONDER_LIMIT, IcuCohort, IcuConfig, ablate, proportional_split, simulate_icu

#: Episodes of the demo cohort whose ablations the chapter's figures compare.
DEMO_EPISODES = 1500


def direction(x: float, y: float, higher: str = "higher", lower: str = "lower", same: str = "the same") -> str:
    """The word for `x` against `y`: `higher`, `lower` or `same` (exactly equal)."""
    return higher if x > y else lower if x < y else same


def same_word(same: bool, yes: str = "identical", no: str = "different") -> str:
    """`yes` when the compared things are the same, else `no`: a claim of sameness read from the check."""
    return yes if same else no


def interval_word(ci_low: float, ci_high: float, above: str = "above zero", below: str = "below zero",
                  spans: str = "includes zero") -> str:
    """`above` when an interval lies wholly above zero, `below` when wholly below, else `spans`."""
    return above if ci_low > 0 else below if ci_high < 0 else spans


@dataclass(frozen=True)
class Demo:
    """The demo cohort (`config` with every realism feature on) and its outcomes; `without` re-simulates the
    same patients with features switched off."""

    config: IcuConfig
    base: IcuCohort

    @property
    def y(self) -> np.ndarray:
        """The drawn labels (0 survived, 1 died)."""
        return self.base.latent["y"].to_numpy()

    def without(self, *features: str) -> IcuCohort:
        """The same patients with `features` (names of `RealismFlags`) switched off."""
        return ablate(self.config, *features)


def demo_cohort(seed: int, n_episodes: int = DEMO_EPISODES) -> Demo:
    """The demo cohort of `n_episodes` with the profile's seed and proportional splits."""
    config = IcuConfig(n_episodes=n_episodes, split=proportional_split(n_episodes), seed=seed)
    return Demo(config, simulate_icu(config))


@dataclass(frozen=True)
class Example:
    """One patient of the demo charted under several settings: what `ehrlib.icu.plots.example_figure` draws."""

    cohorts: dict[str, IcuCohort]
    patient: int
    variables: tuple[str, ...]
    title: str


@dataclass(frozen=True)
class Distributions:
    """One quantity per patient under several settings, its axis label and title, and the numbers the prose reads."""

    series: dict[str, np.ndarray]
    xlabel: str
    title: str
    values: dict[str, Any]


def dataset_facts(profile_name: str, data: Mapping[str, EpisodeSet], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The chapter's opening numbers: the profile, episodes per split, observed and target mortality, and the
    risk model's formula as text."""
    out: dict[str, Any] = {"profile_name": profile_name, "n_total": sum(len(d) for d in data.values())}
    out.update({f"n_{s}": len(data[s]) for s in SPLITS})
    out.update({"prevalence_pct": 100 * meta["prevalence"], "target_pct": 100 * meta["config"]["mortality"],
                "risk_model": risk_model_text()})
    return out


def severity_facts(demo: Demo) -> dict[str, Any]:
    """Mean latent severity at admission and at hour 48 by outcome, the share deteriorating ($r > 0$), and which
    outcome starts sicker and which one worsens more."""
    sev, y = demo.base.severity, demo.y
    out = {"n_demo": demo.config.n_episodes, "sev0_surv": sev[y == 0, 0].mean(), "sev0_died": sev[y == 1, 0].mean(),
           "sev48_surv": sev[y == 0, -1].mean(), "sev48_died": sev[y == 1, -1].mean(),
           "deteriorating_pct": 100 * np.mean(demo.base.latent["trajectory_rate"] > 0)}
    out["sev0_word"] = direction(out["sev0_died"], out["sev0_surv"])
    change = (out["sev48_died"] - out["sev0_died"]) - (out["sev48_surv"] - out["sev0_surv"])
    out["sev_change_word"] = direction(change, 0.0, "widens", "narrows", "stays the same")
    return out


RHYTHM = {"all": "all features", "nocirc": "no circadian rhythm", "nosleep": "no sleep", "neither": "neither"}


def rhythm_settings(demo: Demo) -> dict[str, IcuCohort]:
    """The demo with both the circadian rhythm and sleep, without each and without either."""
    return {RHYTHM["all"]: demo.base, RHYTHM["nocirc"]: demo.without("circadian"),
            RHYTHM["nosleep"]: demo.without("sleep"), RHYTHM["neither"]: demo.without("circadian", "sleep")}


def rhythm_facts(settings: Mapping[str, IcuCohort]) -> dict[str, Any]:
    """Day-night range of survivors' charted heart rate under each `rhythm_settings` setting, and whether it is
    largest with every feature on."""
    out = {f"hr_range_{key}": clock_profile_range(settings[name]) for key, name in RHYTHM.items()}
    out["hr_range_word"] = same_word(out["hr_range_all"] == max(out.values()), "largest", "not the largest")
    return out


def meal_settings(demo: Demo) -> dict[str, IcuCohort]:
    """The demo with and without meals."""
    return {"all features": demo.base, "no meals": demo.without("meals")}


def correlation_settings(demo: Demo) -> dict[str, pd.DataFrame]:
    """Within-patient fluctuation correlations of the vitals with the correlation feature on and off."""
    return {"correlations on": fluctuation_correlation(demo.base),
            "correlations off": fluctuation_correlation(demo.without("correlations"))}


def variability_example(demo: Demo) -> Example:
    """The highest-risk patient whose trajectory rate exceeds 0.5, with and without temporal variability."""
    lat = demo.base.latent
    sick = int(np.argmax(lat["true_risk"].to_numpy() * (lat["trajectory_rate"].to_numpy() > 0.5)))
    return Example({"all features": demo.base, "no temporal variability": demo.without("temporal_variability")},
                   sick, ("Heart Rate", "Systolic blood pressure", "Glucose", "Lactate"),
                   "A deteriorating patient, with and without temporal variability")


def individual_variability(demo: Demo) -> Distributions:
    """Survivors' 48-hour mean heart rate with and without personal set points, and its spread in each."""
    hr, surv = VARIABLES.index("Heart Rate"), demo.y == 0
    series = {"all features": demo.base.means()[surv, hr],
              "no individual variability": demo.without("individual_variability").means()[surv, hr]}
    sd = [float(np.nanstd(v)) for v in series.values()]
    return Distributions(series, "48-hour mean heart rate (bpm)",
                         "Survivors' mean heart rate, with and without individual set points",
                         {"hr_sd_indiv": sd[0], "hr_sd_noindiv": sd[1],
                          "hr_sd_word": direction(sd[0], sd[1], "wider", "narrower")})


CARE_FACTS = {"pct_event": ("acute event", "episodes, %"), "pct_o2": ("supplemental oxygen", "episodes, %"),
              "pct_vaso": ("vasopressors", "episodes, %"), "pct_fluids": ("fluid boluses", "episodes, %"),
              "pct_limited": ("treatment limited", "episodes, %"),
              "mort_limited": ("treatment limited", "mortality with, %"),
              "mort_postop": ("post-operative (elective)", "mortality with, %"),
              "mort_not_postop": ("post-operative (elective)", "mortality without, %")}


def care_table(latent: pd.DataFrame) -> pd.DataFrame:
    """`care_summary` of the dataset's episodes with the course event or treatment as a named column."""
    return care_summary(latent).rename_axis("course event or treatment")


def care_facts(care: pd.DataFrame) -> dict[str, Any]:
    """The shares and mortalities of `care_table` the prose quotes, and whether post-operative patients die
    less often than the others."""
    out: dict[str, Any] = {key: care.loc[row, col] for key, (row, col) in CARE_FACTS.items()}
    out["postop_word"] = direction(out["mort_postop"], out["mort_not_postop"], "more", "less", "no more and no less")
    return out


def treatment_effects(demo: Demo) -> Distributions:
    """48-hour mean SpO2 of the patients given oxygen, as charted and untreated (no oxygen, no vasopressors), and
    the median systolic pressure of those on vasopressors for more than 12 hours, charted and untreated."""
    base, untreated = demo.base, demo.without("oxygen_therapy", "vasopressors")
    lat = base.latent
    treated, on_vaso = (lat["oxygen_hours"] > 0).to_numpy(), (lat["vasopressor_hours"] > 12).to_numpy()
    spo2, sbp = VARIABLES.index("Oxygen saturation"), VARIABLES.index("Systolic blood pressure")
    series = {"with oxygen and vasopressors": base.means()[treated, spo2],
              "the same patients untreated": untreated.means()[treated, spo2]}
    values: dict[str, Any] = {"spo2_treated": np.nanmedian(series["with oxygen and vasopressors"]),
                              "spo2_untreated": np.nanmedian(series["the same patients untreated"]),
                              "n_vaso": int(on_vaso.sum()), "sbp_treated": np.nanmedian(base.means()[on_vaso, sbp]),
                              "sbp_untreated": np.nanmedian(untreated.means()[on_vaso, sbp])}
    values["spo2_word"] = direction(values["spo2_treated"], values["spo2_untreated"])
    values["sbp_word"] = direction(values["sbp_treated"], values["sbp_untreated"])
    values["treatment_hides"] = same_word(values["spo2_word"] == values["sbp_word"] == "higher",
                                          "Both treatments hide part of the illness from the chart",
                                          "In this cohort the treatments do not lift both charted values")
    return Distributions(series, "48-hour mean SpO2 (%)", "SpO2 of the patients who receive oxygen, treated and "
                         "untreated", values)


def fluid_effects(demo: Demo) -> tuple[dict[str, Any], Example]:
    """What fluid boluses change in the demo: first-day systolic pressure of responders and non-responders given
    fluids, with and without them; boluses per treated patient; haemoglobin after two or more boluses; whether
    every label stays the same; and a responder with three or more boluses to follow."""
    base, dry = demo.base, demo.without("fluids")
    lat = base.latent
    boluses, responds = lat["fluid_boluses"].to_numpy(), lat["fluid_responder"].to_numpy() == 1
    sbp, hb = VARIABLES.index("Systolic blood pressure"), VARIABLES.index("Hemoglobin")
    first_day, first_day_dry = window_means(base.hourly()[0], 0, 24), window_means(dry.hourly()[0], 0, 24)
    out: dict[str, Any] = {"fluid_limit": FLUID_NONRESPONDER_LIMIT,
                           "bolus_median": float(np.median(boluses[boluses > 0]))}
    for name, group in (("resp", responds), ("nonresp", ~responds)):
        given = (boluses > 0) & group
        out.update({f"n_fluids_{name}": int(given.sum()), f"sbp_fluids_{name}": np.nanmedian(first_day[given, sbp]),
                    f"sbp_dry_{name}": np.nanmedian(first_day_dry[given, sbp])})
    out.update({"hb_fluids": np.nanmedian(base.means()[boluses >= 2, hb]),
                "hb_dry": np.nanmedian(dry.means()[boluses >= 2, hb]),
                "fluids_same_risk": same_word(np.array_equal(lat["y"], dry.latent["y"]), "the same", "not the same")})
    out["hb_word"] = direction(out["hb_fluids"], out["hb_dry"])
    out["sbp_resp_word"] = direction(out["sbp_fluids_resp"], out["sbp_dry_resp"])
    patient = int(np.flatnonzero(responds & (boluses >= 3))[0])
    out["fl_boluses"] = int(boluses[patient])
    return out, Example({"with fluids": base, "no fluid boluses": dry}, patient,
                        ("Systolic blood pressure", "Diastolic blood pressure", "Heart Rate"),
                        "A patient who responds to fluid boluses, with and without them")


def event_example(demo: Demo) -> tuple[dict[str, Any], Example]:
    """The first patient with an acute event before hour 24 that does not clear (else the first with any event
    before hour 24), with and without acute events, and the event's hour."""
    lat = demo.base.latent
    event = lat["event_hour"].notna().to_numpy() & (lat["event_hour"].to_numpy() < 24)
    stuck = event & (lat["event_responder"].to_numpy() == 0)
    patient = int(np.flatnonzero(stuck if stuck.any() else event)[0])
    return {"ev_hour": lat["event_hour"].iloc[patient]}, Example(
        {"all features": demo.base, "no acute events": demo.without("acute_events")}, patient,
        ("Heart Rate", "Systolic blood pressure", "Temperature", "Lactate"),
        "A patient with an acute event, with and without it")


def risk_ablation_facts(demo: Demo) -> dict[str, Any]:
    """The true risk's AUROC against the drawn labels with every feature, without the U-shaped terms and with the
    univariate risk model, and whether the observations are identical in all three."""
    uni, no_u = demo.without("multivariate_mortality"), demo.without("u_shaped_risk")
    same = all(np.array_equal(demo.base.values, c.values, equal_nan=True) for c in (uni, no_u))
    auc = {key: float(roc_auc_score(c.latent["y"], c.latent["true_risk"]))
           for key, c in (("auc_demo", demo.base), ("auc_no_u", no_u), ("auc_uni", uni))}
    return {**auc, "same_obs": same_word(same), "uni_word": direction(auc["auc_uni"], auc["auc_demo"])}


MISSINGNESS = {"no MCAR": "mcar", "no MAR": "mar", "no MNAR": "mnar", "no shift effect": "shift_quality"}


def observed_by_ablation(demo: Demo) -> pd.DataFrame:
    """Share of hourly bins with a value per variable (rows), with every feature and with each missingness
    mechanism (or the shift effect) switched off (columns)."""
    settings = {"all features": demo.base, **{name: demo.without(flag) for name, flag in MISSINGNESS.items()}}
    return pd.DataFrame({name: c.observed_fraction() for name, c in settings.items()})


@dataclass(frozen=True)
class Pooled:
    """Every split of the dataset read from disk, pooled: hourly values (NaN where not charted), the mask and
    the latent rows of the same stays in the same order."""

    values: np.ndarray
    mask: np.ndarray
    latent: pd.DataFrame


def pool(data: Mapping[str, EpisodeSet], latent: pd.DataFrame) -> Pooled:
    """The splits of `data` pooled in `SPLITS` order, with their rows of `latent.csv` (indexed by stay)."""
    stays = np.concatenate([data[s].stays for s in SPLITS])
    return Pooled(np.concatenate([data[s].values for s in SPLITS]), np.concatenate([data[s].mask for s in SPLITS]),
                  latent.loc[stays].reset_index())


SURVIVOR_MEANS = {"hr": "Heart Rate", "sbp": "Systolic blood pressure", "rr": "Respiratory rate",
                  "spo2": "Oxygen saturation", "temp": "Temperature", "glu": "Glucose"}


def cohort_facts(pooled: Pooled) -> dict[str, Any]:
    """Survivors' median 48-hour means of six vitals and labs, the share of stays with a lactate and the 90th and
    99th percentiles of the true risk."""
    surv = pd.DataFrame(window_means(pooled.values), columns=VARIABLES)[pooled.latent["y"].to_numpy() == 0].median()
    out: dict[str, Any] = {f"surv_{key}": surv[var] for key, var in SURVIVOR_MEANS.items()}
    out["lactate_stays_pct"] = 100 * np.mean(pooled.mask[:, :, VARIABLES.index("Lactate")].any(axis=1))
    risk = pooled.latent["true_risk"]
    return {**out, "risk_q90": np.quantile(risk, 0.9), "risk_q99": np.quantile(risk, 0.99)}


def resimulate(meta: Mapping[str, Any], stays: np.ndarray) -> IcuCohort:
    """The dataset simulated again in memory from its `metadata.json` config, for its latent state; refused when
    its stays are not the files' (`stays`)."""
    cfg = meta["config"]
    cohort = simulate_icu(IcuConfig(n_episodes=cfg["n_episodes"], split=tuple(cfg["split"]),
                                    mortality=cfg["mortality"], seed=cfg["seed"]))
    if not np.array_equal(np.sort(cohort.latent["stay"].to_numpy()), np.sort(stays)):
        raise ValueError("metadata.json: simulating its config again does not give the dataset's stays "
                         "(the files were not made by this generator version)")
    return cohort
