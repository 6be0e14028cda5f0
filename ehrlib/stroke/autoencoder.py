"""The paper's single-hidden-layer ICD-10 code autoencoder (Teoh 2018, Eq. 7-8).

The autoencoder maps a one-hot code vector x in {0,1}^V to d = tanh(x^T W_in + b_in) in R^32 (Eq. 7) and
decodes it with softmax(d^T W_out + b_out) (Eq. 8), trained with categorical cross-entropy on the identity
(each code is its own target). Because x is one-hot, x^T W_in is row `i` of W_in: the input layer here takes
the integer id of the code and gathers that row (`OneHotDense`), which is the same arithmetic without ever
building a V x V one-hot matrix; the targets are integer ids with Keras' sparse categorical cross-entropy,
which equals categorical cross-entropy against the one-hot target. Both identities are checked in the
tests against the explicit one-hot formulas.

Choices the paper leaves open, made here: the vocabulary is the sorted set of codes passed in (chapter 05
uses every code that appears in the hospital tables; the paper "supported 6,905 codes", i.e. its own
data's codes); each code appears exactly once per epoch (no frequency weighting: the goal is a perfect
reconstruction of every code, rare or common); batches are a fixed, seeded permutation of the vocabulary
(`shuffle=False`, so no global random state is used); Adam with a configurable learning rate; weights are
initialised with explicitly seeded Glorot-uniform initialisers. Nothing here sees labels or dates.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ehrlib.files import atomic_write_bytes
from ehrlib.jsonfiles import read_json, write_json
from ehrlib.training import load_keras_model
from ehrlib.logs import get_logger
from ehrlib.stroke.icd10 import CodeEmbedding, Vocabulary

log = get_logger(__name__)


@dataclass(frozen=True)
class AutoencoderConfig:
    """Training settings of the code autoencoder (the paper gives only the architecture)."""

    embedding_dim: int = 32
    epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 0.01
    seed: int = 0
    stop_when_perfect: bool = True  # stop once an epoch reconstructs every code (argmax check)
    min_epochs: int = 5


def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


@functools.lru_cache(maxsize=1)
def _one_hot_dense_class():
    keras = _keras()

    @keras.saving.register_keras_serializable(package="ehrlib")
    class OneHotDense(keras.layers.Layer):
        """Dense layer on a one-hot input given by its integer index: `activation(W[i] + b)` = Eq. 7.

        The kernel has shape (input_dim, units) exactly like `Dense(units)` applied to a one-hot vector
        of length `input_dim`; `x^T W` for a one-hot `x` selects row `i`, so the layer gathers it.
        """

        def __init__(self, input_dim: int, units: int, activation: str | None = None, seed: int = 0, **kwargs):
            super().__init__(**kwargs)
            self.input_dim = int(input_dim)
            self.units = int(units)
            self.activation = keras.activations.get(activation)
            self.seed = int(seed)

        def build(self, input_shape):
            self.kernel = self.add_weight(
                name="kernel", shape=(self.input_dim, self.units),
                initializer=keras.initializers.GlorotUniform(seed=self.seed))
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

        def call(self, ids):
            ids = keras.ops.cast(ids, "int32")
            return self.activation(keras.ops.take(self.kernel, ids, axis=0) + self.bias)

        def compute_output_shape(self, input_shape):
            return (*input_shape, self.units)

        def get_config(self):
            return {**super().get_config(), "input_dim": self.input_dim, "units": self.units,
                    "activation": keras.activations.serialize(self.activation), "seed": self.seed}

    return OneHotDense


def build_autoencoder(vocab_size: int, config: AutoencoderConfig = AutoencoderConfig()):
    """The Eq. 7-8 autoencoder as a compiled Keras model: code id -> tanh(32) -> softmax(V).

    Input: integer code ids, shape (batch,). Output: softmax over the V codes. Layer `encoder` is Eq. 7,
    layer `decoder` (a `Dense(V, softmax)`) is Eq. 8. Loss: sparse categorical cross-entropy (equal to
    categorical cross-entropy on one-hot targets), Adam.
    """
    keras = _keras()
    one_hot_dense = _one_hot_dense_class()
    ids = keras.Input(shape=(), dtype="int32", name="code_id")
    d = one_hot_dense(vocab_size, config.embedding_dim, activation="tanh", seed=config.seed, name="encoder")(ids)
    out = keras.layers.Dense(vocab_size, activation="softmax", name="decoder",
                             kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed + 1))(d)
    model = keras.Model(ids, out, name="icd10_autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


@dataclass
class AutoencoderResult:
    """A trained autoencoder with its vocabulary, training history and reconstruction accuracy."""

    model: object
    vocabulary: Vocabulary
    history: dict[str, list[float]]
    reconstruction_accuracy: float
    seconds: float
    config: AutoencoderConfig

    def embedding(self) -> "CodeEmbedding":
        """The 32-d code embedding (Eq. 7 applied to every vocabulary code)."""
        return code_embedding(self.model, self.vocabulary)


def train_autoencoder(vocabulary: Vocabulary, config: AutoencoderConfig = AutoencoderConfig(),
                      progress: bool = True) -> AutoencoderResult:
    """Train the autoencoder on the identity over `vocabulary` and measure its reconstruction accuracy.

    Each epoch presents every code once, in one fixed seeded permutation (deterministic batches). The
    reconstruction accuracy is the share of codes `c` with argmax(decode(encode(c))) == c. With
    `config.stop_when_perfect`, training stops at the first epoch (after `min_epochs`) whose end-of-epoch
    weights reconstruct every code; `config.epochs` is then only the ceiling.
    """
    keras = _keras()
    model = build_autoencoder(len(vocabulary), config)
    order = np.random.default_rng(config.seed).permutation(len(vocabulary)).astype(np.int32)
    start = time.perf_counter()

    class _Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            done = (config.stop_when_perfect and epoch + 1 >= config.min_epochs and logs["accuracy"] >= 0.999
                    and reconstruction_accuracy(self.model, vocabulary) == 1.0)
            if progress and (done or (epoch + 1) % max(1, config.epochs // 5) == 0 or epoch + 1 == config.epochs):
                log.info(f"autoencoder epoch {epoch + 1}/{config.epochs}: loss {logs['loss']:.4f} "
                         f"accuracy {logs['accuracy']:.4f} ({time.perf_counter() - start:.1f} s)"
                         + (" - every code reconstructed, stopping" if done else ""))
            if done:
                self.model.stop_training = True

    fit = model.fit(order, order, epochs=config.epochs, batch_size=config.batch_size, shuffle=False,
                    verbose=0, callbacks=[_Progress()])
    seconds = time.perf_counter() - start
    history = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
    acc = reconstruction_accuracy(model, vocabulary)
    return AutoencoderResult(model, vocabulary, history, acc, seconds, config)


def reconstruction_accuracy(model, vocabulary: Vocabulary, batch_size: int = 4096) -> float:
    """Share of vocabulary codes whose decoded argmax is the code itself."""
    ids = np.arange(len(vocabulary), dtype=np.int32)
    probs = model.predict(ids, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == ids))


def encoder_weights(model) -> tuple[np.ndarray, np.ndarray]:
    """(W_input, b_input) of Eq. 7, shapes (V, 32) and (32,)."""
    layer = model.get_layer("encoder")
    return np.asarray(layer.kernel.numpy()), np.asarray(layer.bias.numpy())


def code_embedding(model, vocabulary: Vocabulary) -> CodeEmbedding:
    """Apply Eq. 7 to every code of `vocabulary` with the trained encoder weights."""
    w, b = encoder_weights(model)
    if w.shape[0] != len(vocabulary):
        raise ValueError(f"encoder has {w.shape[0]} inputs but the vocabulary has {len(vocabulary)} codes")
    return CodeEmbedding(vocabulary, np.tanh(w + b).astype(np.float32))


def save_autoencoder(result: AutoencoderResult, folder: str | Path) -> dict[str, Path]:
    """Save the model (`icd10_autoencoder.keras`) and vocabulary + summary (`icd10_vocabulary.json`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = save_keras_model(result.model, folder / "icd10_autoencoder.keras")
    vocab_path = write_json(folder / "icd10_vocabulary.json", {
        **result.vocabulary.to_json(), "config": asdict(result.config),
        "reconstruction_accuracy": result.reconstruction_accuracy})
    return {"model": model_path, "vocabulary": vocab_path}


def save_keras_model(model, path: str | Path) -> Path:
    """Save a Keras model as `.keras`, atomically and reproducibly (equal weights give equal bytes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    try:
        return atomic_write_bytes(path, _reproducible_keras_archive(tmp.read_bytes()))
    finally:
        tmp.unlink(missing_ok=True)


def _reproducible_keras_archive(data: bytes) -> bytes:
    """Rewrite a `.keras` zip so equal weights give equal bytes: fixed entry times, no `date_saved`.

    Keras stamps the save time into `metadata.json` and into the weights entry's zip header; neither is
    read back when loading. Entries, their order and contents are otherwise kept.
    """
    import io
    import json
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            payload = src.read(info)
            if info.filename == "metadata.json":
                meta = json.loads(payload)
                meta.pop("date_saved", None)
                payload = json.dumps(meta, sort_keys=True).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_STORED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, payload)
    return out.getvalue()


def load_autoencoder(folder: str | Path) -> tuple[object, Vocabulary]:
    """Load a model and vocabulary written by `save_autoencoder`."""
    keras = _keras()
    _one_hot_dense_class()
    folder = Path(folder)
    model = load_keras_model(folder / "icd10_autoencoder.keras", keras)
    path = folder / "icd10_vocabulary.json"
    state = read_json(path)  # the vocabulary's codes plus a training summary
    vocab = Vocabulary.from_dict({"codes": state.get("codes")} if isinstance(state, dict) else state, where=str(path))
    return model, vocab


def load_code_embedding(folder: str | Path) -> CodeEmbedding:
    """The code embedding of an autoencoder saved by `save_autoencoder` (for the modelling chapters)."""
    model, vocab = load_autoencoder(folder)
    return code_embedding(model, vocab)


def embedding_projection(embedding: CodeEmbedding, n_components: int = 2) -> np.ndarray:
    """PCA projection (scikit-learn) of the code vectors, shape (V, n_components)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=n_components, random_state=0).fit_transform(embedding.vectors)



@dataclass(frozen=True)
class ChapterNeighbours:
    """How well a code's vector tells its ICD-10 chapter: the cross-validated accuracy of a k-nearest-neighbour
    classifier on the vectors, against always naming the largest chapter (`majority`)."""

    accuracy: float
    majority: float
    k: int = 5

    def verdict(self, margin: float = 0.1) -> str:
        """'so the vectors carry little of the ICD-10 hierarchy ...' unless the neighbours beat the majority
        guess by at least `margin`, then 'so codes of a chapter do sit near each other'."""
        if self.accuracy < self.majority + margin:
            return ("so the vectors carry little of the ICD-10 hierarchy: the embedding is a compact, lossless "
                    "code book rather than a semantic map")
        return "so codes of a chapter do sit near each other"


def chapter_neighbours(embedding: CodeEmbedding, chapters: np.ndarray, k: int = 5, folds: int = 5
                       ) -> ChapterNeighbours:
    """`ChapterNeighbours` of the code vectors: `folds`-fold cross-validated accuracy of a `k`-nearest-neighbour
    classifier predicting each code's chapter, and the share of the largest chapter."""
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    acc = cross_val_score(KNeighborsClassifier(k), embedding.vectors, chapters, cv=folds).mean()
    _, counts = np.unique(np.asarray(chapters), return_counts=True)
    return ChapterNeighbours(float(acc), float(counts.max() / counts.sum()), k)


def reconstruction_verdict(accuracy: float) -> str:
    """'every code is read back, as in the paper' or how far short of the paper's perfect reconstruction."""
    if accuracy >= 1.0:
        return "every code is read back from its vector, the perfect reconstruction the paper reports"
    return (f"{100 * (1 - accuracy):.2f} % of the codes are not read back from their vectors, short of the "
            f"perfect reconstruction the paper reports")

__all__ = [
    "AutoencoderConfig", "AutoencoderResult", "build_autoencoder", "code_embedding", "embedding_projection",
    "encoder_weights", "load_autoencoder", "load_code_embedding", "reconstruction_accuracy", "save_autoencoder", "save_keras_model",
    "train_autoencoder", "ChapterNeighbours", "chapter_neighbours", "reconstruction_verdict",
]
