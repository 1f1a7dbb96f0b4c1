"""Text normalization, tokenization and feature hashing: the parts training and serving share."""

from __future__ import annotations

import numpy as np

from model.serving.inference import (
    FeatureSpec,
    featurize,
    normalize_text,
    tokenize,
    word_ngrams_with_features,
)


def test_given_imdb_markup_when_normalized_then_html_entities_unicode_and_case_are_cleaned() -> None:
    # Given raw IMDb text with <br /> tags, entities, full-width letters and curly quotes
    raw = (
        "Great!<br /><br />It&#39;s  &quot;FUN&quot; \uff26\uff29\uff2c\uff2d \u2019n\u2019 Caf\u00e9<i>x</i>"
    )
    # When normalized
    text = normalize_text(raw)
    # Then tags become spaces, entities are unescaped, NFKC folds full-width letters, all is lowercase
    assert text == "great! it's \"fun\" film 'n' café x"


def test_given_review_when_tokenized_then_punctuation_ratings_and_negations_are_tokens() -> None:
    # Given a normalized review
    text = normalize_text("I dont like it!!!!! Cannot recommend... 3/10, isn't worth $5.")
    # When tokenized
    tokens = tokenize(text)
    # Then "!" runs are kept (capped at three), ratings stay whole, negations share one spelling
    assert tokens == [
        "i", "don't", "like", "it", "!!!", "can't", "recommend", "...",
        "3/10", ",", "isn't", "worth", "$", "5", ".",
    ]  # fmt: skip


def test_given_a_batch_when_featurized_then_each_document_gets_what_it_gets_alone() -> None:
    # Given three texts, one of them with a single token
    spec = FeatureSpec(word_ngram=(1, 3), word_bits=16, char_ngram=(2, 4), char_bits=16)
    texts = ["A good film, good cast.", "bad", "Not good at all!"]
    # When featurized as a batch and one by one
    batch = featurize(texts, spec)
    # Then the batch equals the concatenation (no n-gram crosses documents) and features are unique per doc
    for i, text in enumerate(texts):
        alone = featurize([text], spec)
        assert np.array_equal(batch.feature[batch.doc == i], alone.feature)
    pairs = batch.doc * spec.n_features + batch.feature
    assert len(np.unique(pairs)) == len(pairs)
    assert batch.feature.max() < spec.n_features
    assert (batch.feature[batch.doc == 1] >= 1 << spec.word_bits).sum() > 0  # char n-grams of "bad"


def test_given_the_hash_when_computed_then_values_are_pinned_so_old_artifacts_keep_working() -> None:
    # Given the feature spec of the shipped model
    spec = FeatureSpec(word_ngram=(1, 3), word_bits=22)
    # When a fixed phrase is hashed
    grams = dict(word_ngrams_with_features("Great movie!", spec))
    # Then the buckets are the pinned ones: a change here silently breaks every trained artifact
    assert set(grams) == {"great", "movie", "!", "great movie", "movie !", "great movie !"}
    assert grams == PINNED_BUCKETS


def test_given_unigrams_to_trigrams_when_counted_then_every_ngram_of_the_text_is_there() -> None:
    spec = FeatureSpec(word_ngram=(1, 3), word_bits=22)
    grams = [g for g, _ in word_ngrams_with_features("one two three four", spec)]
    assert grams == [
        "one",
        "two",
        "three",
        "four",
        "one two",
        "two three",
        "three four",
        "one two three",
        "two three four",
    ]


PINNED_BUCKETS = {
    "great": 1963962,
    "movie": 3476259,
    "!": 3176005,
    "great movie": 3895600,
    "movie !": 593494,
    "great movie !": 1773100,
}
