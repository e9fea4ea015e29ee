"""Synthetic data for decoys: users, transactions and network flows, with a realism score.

A pure library: no HTTP, database or configuration. The same seed always gives the same
bytes (for a given numpy version), records stream in chunks so memory stays flat for any
count, and `score_quality` measures how closely the output follows its stated targets.
"""

from shieldx.camouflage.synth.base import CHUNK_SIZE, Chunk, Kind, Record, Value
from shieldx.camouflage.synth.checks import ColumnScore
from shieldx.camouflage.synth.corpora import Corpus
from shieldx.camouflage.synth.markov import MarkovChain
from shieldx.camouflage.synth.quality import QualityReport, collect, score_quality, score_table
from shieldx.camouflage.synth.synthesizer import Synthesizer, columns_of, synth_records
from shieldx.camouflage.synth.writers import (
    FORMATS,
    Format,
    Progress,
    open_output,
    write_csv,
    write_jsonl,
    write_records,
    write_synth,
)

__all__ = [
    "CHUNK_SIZE",
    "FORMATS",
    "Chunk",
    "ColumnScore",
    "Corpus",
    "Format",
    "Kind",
    "MarkovChain",
    "Progress",
    "QualityReport",
    "Record",
    "Synthesizer",
    "Value",
    "collect",
    "columns_of",
    "open_output",
    "score_quality",
    "score_table",
    "synth_records",
    "write_csv",
    "write_jsonl",
    "write_records",
    "write_synth",
]
