"""Chapter 10's sequence models as fitters (``fit(train, val) -> predict``) for the study protocols.

A `SequenceSpec` names one model completely: its kind ("lstm": the replication's architecture,
`lstm.build_lstm`, on the time-aware tensor `time_inputs.lstm_tensor`; "grud": `grud.build_grud`;
"attention": `attention.build_attention`), which inputs it reads (`time_inputs.TimeInputs`), its
architecture settings and its training (`sequence_training.TrainSettings`). `sequence_fitter` fits the
`time_inputs.TimePreprocessor` on the training stays only, builds the network with the run's seed,
trains it with early stopping on the validation stays and returns the predict function.
`SpecRecord` is the JSON form of a spec (the chapter saves the search's choice with the results).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Literal

import numpy as np

from ehrlib.icu.episodes import EpisodeSet
from ehrlib.records import Record
from ehrlib.mortality.attention import AttentionConfig, build_attention
from ehrlib.mortality.grud import GrudConfig, build_grud
from ehrlib.mortality.lstm import LstmConfig, build_lstm
from ehrlib.mortality.sequence_training import FitResult, TrainSettings, predict, train_network
from ehrlib.mortality.time_inputs import Arrays, TimeInputs, TimePreprocessor, lstm_tensor

Kind = Literal["lstm", "grud", "attention"]
Predictor = Callable[[EpisodeSet], np.ndarray]
Fitter = Callable[[EpisodeSet, EpisodeSet], Predictor]


@dataclass(frozen=True)
class SequenceSpec(Record):
    """One sequence model: kind, inputs, training, and the architecture of its kind (the others unused).
    For the LSTM, `lstm_dropout` is the input dropout and `lstm_head_dropout` the head's (the replication:
    0.5 and 0.5, recurrent dropout 0.3)."""

    kind: Kind
    inputs: TimeInputs = TimeInputs()
    train: TrainSettings = TrainSettings()
    lstm_dropout: float = 0.5
    lstm_recurrent_dropout: float = 0.3
    lstm_head_dropout: float = 0.5
    grud: GrudConfig = GrudConfig()
    attention: AttentionConfig = AttentionConfig()

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Dropout rates in [0, 1)."""
        for rate in (self.lstm_dropout, self.lstm_recurrent_dropout, self.lstm_head_dropout):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"dropout rates must lie in [0, 1), got {rate}")

    def lstm_config(self) -> LstmConfig:
        """The replication's `LstmConfig` with this spec's dropout rates (its training fields unused here)."""
        return LstmConfig(dropout=self.lstm_dropout, recurrent_dropout=self.lstm_recurrent_dropout,
                          head_dropout=self.lstm_head_dropout)

    def with_epochs(self, max_epochs: int, patience: int, batch_size: int | None = None) -> "SequenceSpec":
        """The same model with the profile's epoch ceiling, patience (and batch size when given)."""
        train = replace(self.train, max_epochs=max_epochs, patience=patience,
                        batch_size=batch_size or self.train.batch_size)
        return replace(self, train=train)


def build_network(spec: SequenceSpec, prep: TimePreprocessor, seed: int):
    """The spec's network for stays preprocessed by `prep`, every initializer and dropout seeded."""
    steps, d, s = prep.state.n_steps, prep.n_variables, prep.n_static if spec.inputs.descriptors else 0
    if spec.kind == "lstm":
        width = d * (1 + spec.inputs.mask + spec.inputs.delta) + s
        return build_lstm(steps, width, spec.lstm_config(), seed=seed)
    if spec.kind == "grud":
        return build_grud(steps, d, s, replace(spec.grud, descriptors=spec.inputs.descriptors), seed=seed)
    return build_attention(steps, d, s, replace(spec.attention, descriptors=spec.inputs.descriptors), seed=seed)


def network_inputs(spec: SequenceSpec, arrays: Arrays) -> Any:
    """What the spec's network reads: the LSTM one tensor, GRU-D and attention the dict (GRU-D and the
    attention model always read mask and hours: they are part of their design)."""
    return lstm_tensor(arrays, spec.inputs) if spec.kind == "lstm" else arrays


def fit_sequence_model(spec: SequenceSpec, train: EpisodeSet, val: EpisodeSet, seed: int = 0,
                       progress: bool = False) -> tuple[TimePreprocessor, FitResult]:
    """Fit the preprocessor on `train`, build the network with `seed` and train it (early stopping on `val`)."""
    prep = TimePreprocessor.fit(train)
    model = build_network(spec, prep, seed)
    x_train = network_inputs(spec, prep.transform(train))
    x_val = network_inputs(spec, prep.transform(val))
    result = train_network(model, x_train, np.asarray(train.y), x_val, np.asarray(val.y), spec.train, seed=seed,
                           progress=progress)
    return prep, result


def sequence_fitter(spec: SequenceSpec, seed: int = 0) -> Fitter:
    """A fitter (``fit(train, val) -> predict``) for the protocols, the search and the learning curves."""
    def fit(train: EpisodeSet, val: EpisodeSet) -> Predictor:
        prep, result = fit_sequence_model(spec, train, val, seed=seed)
        return lambda eps: predict(result.model, network_inputs(spec, prep.transform(eps)),
                                   spec.train.predict_batch_size)
    return fit
