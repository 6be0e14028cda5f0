"""Tests of the ICD-10 vocabulary, chapter lookup and the Eq. 7-8 autoencoder."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from ehrlib.stroke.autoencoder import (
    AutoencoderConfig, build_autoencoder, code_embedding, embedding_projection, encoder_weights, load_autoencoder,
    save_autoencoder, train_autoencoder,
)
from ehrlib.stroke.icd10 import CodeEmbedding, Vocabulary, build_vocabulary, icd10_chapter, who_vocabulary


@pytest.fixture(scope="module")
def small_vocab() -> Vocabulary:
    codes = [c for c in who_vocabulary().codes if c[0] in "EI"][:150]
    return build_vocabulary(codes)


@pytest.fixture(scope="module")
def trained(small_vocab):
    cfg = AutoencoderConfig(epochs=150, batch_size=64, learning_rate=0.02, seed=3)
    return train_autoencoder(small_vocab, cfg, progress=False)


def test_vocabulary_sorted_unique_and_validated(tmp_path):
    v = build_vocabulary(["I639", "E11", "I10", "E11"])
    assert v.codes == ("E11", "I10", "I639")
    assert v.index(["I10", "E11", "I10"]).tolist() == [1, 0, 1]
    with pytest.raises(KeyError, match="'Z999' is not in the vocabulary"):
        v.index(["I10", "Z999"])
    with pytest.raises(ValueError, match="not WHO ICD-10"):
        build_vocabulary(["I10", "XX99"])
    with pytest.raises(ValueError, match="not WHO ICD-10"):
        build_vocabulary(["I60-I69"])  # a block, not a code
    v.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json") == v


def test_who_vocabulary_size_and_chapters():
    v = who_vocabulary()
    assert 12_000 < len(v) < 12_500  # 2,05x categories + 10,196 subcategories
    assert all(len(c) <= 4 for c in v.codes)
    assert icd10_chapter(["I639", "E11", "A000", "I10"]).tolist() == ["IX", "IV", "I", "IX"]


def test_encoder_equals_explicit_one_hot_formula(small_vocab):
    """Eq. 7 with an explicit one-hot x: tanh(x^T W + b) must equal the id-gather layer's output."""
    model = build_autoencoder(len(small_vocab), AutoencoderConfig(seed=1))
    w, b = encoder_weights(model)
    rng = np.random.default_rng(0)
    b_new = rng.normal(size=b.shape).astype(np.float32)  # non-zero bias so the test can see it
    model.get_layer("encoder").bias.assign(b_new)
    ids = np.array([0, 5, 17, len(small_vocab) - 1], dtype=np.int32)
    x = np.eye(len(small_vocab), dtype=np.float32)[ids]
    expected_d = np.tanh(x @ w + b_new)
    import keras
    encoder = keras.Model(model.input, model.get_layer("encoder").output)
    assert np.allclose(encoder.predict(ids, verbose=0), expected_d, atol=1e-6)
    wo, bo = model.get_layer("decoder").get_weights()
    logits = expected_d @ wo + bo
    expected_y = np.exp(logits - logits.max(1, keepdims=True))
    expected_y /= expected_y.sum(1, keepdims=True)
    assert np.allclose(model.predict(ids, verbose=0), expected_y, atol=1e-6)
    emb = code_embedding(model, small_vocab)
    assert np.allclose(emb.lookup([small_vocab.codes[i] for i in ids]), expected_d, atol=1e-6)


def test_sparse_loss_equals_categorical_cross_entropy_on_one_hot(small_vocab):
    import keras
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(len(small_vocab)), size=8).astype(np.float32)
    ids = rng.integers(0, len(small_vocab), 8)
    sparse = keras.losses.SparseCategoricalCrossentropy()(ids, p)
    dense = keras.losses.CategoricalCrossentropy()(np.eye(len(small_vocab))[ids], p)
    assert float(sparse) == pytest.approx(float(dense), rel=1e-5)


def test_training_reaches_perfect_reconstruction(trained, small_vocab):
    assert trained.reconstruction_accuracy == 1.0
    assert trained.history["loss"][-1] < trained.history["loss"][0]
    emb = trained.embedding()
    assert emb.vectors.shape == (len(small_vocab), 32)
    assert np.all(np.abs(emb.vectors) <= 1.0)  # tanh range
    assert embedding_projection(emb).shape == (len(small_vocab), 2)


def test_untrained_model_does_not_reconstruct(small_vocab):
    """The accuracy check can fail: a freshly initialised model reconstructs few codes."""
    from ehrlib.stroke.autoencoder import reconstruction_accuracy
    assert reconstruction_accuracy(build_autoencoder(len(small_vocab)), small_vocab) < 0.5


def test_training_is_deterministic(small_vocab):
    cfg = AutoencoderConfig(epochs=3, batch_size=64, seed=5, stop_when_perfect=False)
    a = train_autoencoder(small_vocab, cfg, progress=False)
    b = train_autoencoder(small_vocab, cfg, progress=False)
    assert np.array_equal(a.embedding().vectors, b.embedding().vectors)  # bitwise, on CPU
    c = train_autoencoder(small_vocab, AutoencoderConfig(epochs=3, batch_size=64, seed=6, stop_when_perfect=False),
                          progress=False)
    assert not np.allclose(a.embedding().vectors, c.embedding().vectors)


def test_save_and_load_round_trip(trained, tmp_path):
    paths = save_autoencoder(trained, tmp_path)
    assert paths["model"].suffix == ".keras" and paths["model"].exists()
    model, vocab = load_autoencoder(tmp_path)
    assert vocab == trained.vocabulary
    assert np.allclose(code_embedding(model, vocab).vectors, trained.embedding().vectors)
    assert not list(tmp_path.glob(".*tmp*"))


def test_saved_model_is_byte_identical_for_equal_weights(trained, tmp_path):
    import time
    a = save_autoencoder(trained, tmp_path / "a")["model"].read_bytes()
    time.sleep(1.1)  # Keras stamps the save time; the archive must not depend on it
    b = save_autoencoder(trained, tmp_path / "b")["model"].read_bytes()
    assert a == b


def test_one_wrapper_one_truncation_rule():
    """The schema, the generator and the vocabularies share icd10.who_codes (four characters, no dot)."""
    from ehrlib.stroke import schema, synth
    from ehrlib.stroke.icd10 import is_known_icd10, is_stroke_code, truncate, who_codes

    assert schema.is_known_icd10 is is_known_icd10
    codes = who_codes()
    assert all(len(c) <= 4 and "." not in c for c in codes)
    assert tuple(synth.build_catalogue().codes) == codes
    assert who_vocabulary().codes == codes
    assert is_known_icd10(["I639", "I63.9", "I6390", None, 5, "E11"]).tolist() == [True, False, False, False,
                                                                                   False, True]
    assert truncate(["I63.90", "E11"]).tolist() == ["I639", "E11"]
    assert is_known_icd10(truncate(["M0000", "I63.9"])).all()
    assert is_stroke_code(["I600", "I69", "I59", "I70", "G45"]).tolist() == [True, True, False, False, False]


def test_random_embedding_seeded_and_bounded():
    from ehrlib.stroke.icd10 import random_embedding

    v = build_vocabulary(["E11", "I10", "I639"])
    a, b = random_embedding(v, 8, seed=1), random_embedding(v, 8, seed=1)
    assert a.vectors.shape == (3, 8) and np.array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, random_embedding(v, 8, seed=2).vectors)
    assert np.abs(a.vectors).max() < 1


def test_chapter_neighbours_and_their_verdict():
    from ehrlib.stroke.autoencoder import ChapterNeighbours, chapter_neighbours

    vocab = Vocabulary(tuple(f"A{i:02d}" for i in range(40)))
    chapters = np.array(["I"] * 20 + ["II"] * 20)
    grouped = np.where(chapters[:, None] == "I", 0.0, 5.0) + np.random.default_rng(0).normal(0, 0.1, (40, 3))
    near = chapter_neighbours(CodeEmbedding(vocab, grouped.astype(np.float32)), chapters)
    assert near.accuracy == pytest.approx(1.0) and near.majority == pytest.approx(0.5)
    assert near.verdict() == "so codes of a chapter do sit near each other"
    mixed = chapter_neighbours(CodeEmbedding(vocab, np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)),
                               chapters)
    assert mixed.accuracy < 0.8
    assert ChapterNeighbours(0.55, 0.5).verdict().startswith("so the vectors carry little of the ICD-10 hierarchy")


def test_reconstruction_verdict_names_the_shortfall():
    from ehrlib.stroke.autoencoder import reconstruction_verdict

    assert reconstruction_verdict(1.0).startswith("every code is read back")
    assert reconstruction_verdict(0.995).startswith("0.50 % of the codes are not read back")
