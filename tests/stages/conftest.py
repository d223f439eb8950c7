"""Fixtures of the stage tests: one MTCNN per test module, and the tiny corpus processed once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dfdc_lake.config import Config
from dfdc_lake.records import Outcome, Sample
from dfdc_lake.source.catalog import load_catalog
from dfdc_lake.stages.faces import FaceDetector, detect_fn
from dfdc_lake.stages.family import FamilyProcessor, FamilyResult


@pytest.fixture(scope="module")
def face_detector() -> Iterator[FaceDetector]:
    """MTCNN loaded once per test module (on the CPU: tests must not depend on a GPU)."""
    detector = FaceDetector(Config().faces.model_copy(update={"device": "cpu"}))
    detector.setup()
    yield detector


@dataclass
class CorpusRun:
    """Every family of the tiny corpus through ``FamilyProcessor``, indexed by clip file name."""

    config: Config
    results: list[FamilyResult]
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for result in self.results:
            for outcome in result.outcomes:
                self.outcomes[outcome.filename] = outcome
            for sample in result.samples:
                self.samples.setdefault(sample.filename, []).append(sample)


def process_corpus(root: Path, detector: FaceDetector, config: Config | None = None) -> CorpusRun:
    config = config or Config()
    processor = FamilyProcessor(config, detect_fn(detector))
    families = load_catalog(str(root)).families()
    return CorpusRun(config, [processor.process(family) for family in families])


@pytest.fixture(scope="module")
def corpus_run(tiny_corpus: Path, face_detector: FaceDetector) -> CorpusRun:
    """The tiny corpus processed once per module with the default config."""
    return process_corpus(tiny_corpus, face_detector)
