"""rankrl.data: benchmarks (``load_benchmark``) and training rows (``build_rows`` from a ``RowsSource``).

``build_rows(RowsSource(data_source="benchmark:trec-dl-2019", benchmark_dir="../shared/data", paradigm="listwise"))``
is what ``rankrl data build`` and ``rankrl train`` run; the same field names are recipe keys and flags.
"""

from rankrl.data.benchmarks import BenchmarkOptions, load_benchmark
from rankrl.data.records import Benchmark, Passage, Query
from rankrl.data.rows import RowsConfig, RowsResult
from rankrl.data.sources import RowsSource, build_rows

__all__ = ["Benchmark", "BenchmarkOptions", "Passage", "Query", "RowsConfig", "RowsResult", "RowsSource",
           "build_rows", "load_benchmark"]
