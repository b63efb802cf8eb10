"""A family of detectors from one sweep: the baseline and one Resolution
YOLOv8 per complexity cap, trained, frozen, exported and timed on this
machine (issue 14, item 4).

    python -m training sweep family --data embedded --caps 6000 7360 250MFLOPs --seeds 0

Each cap is the hinge's cap of one Resolution model: a plain number is
PANet cells, a number with a FLOPs unit (`250MFLOPs`, `0.8GFLOPs`) is
multiply-adds per image (`complexity_definition="flops"`), as
`--complexity-cap` takes them. Every (model, seed) is a detection run of its
own, `SWEEP_DIR/baseline_seed<N>/` and `SWEEP_DIR/resolution_cap<CAP>_seed<N>/`
(`table1.run_name`); finished runs are reused and an interrupted one resumes,
as in the Table 1 sweep.

Every run is then frozen and exported by `training.common.export.export_run`
(`keras_resolution.freeze`, then Keras' own `model.export`, checked against
the frozen Keras model on the run's evaluation images) into
`RUN_DIR/export-saved_model` and `RUN_DIR/export-onnx`; an export already
there is reused. ONNX needs the optional extra (tf2onnx, ONNX Runtime);
without it the sweep exports and times the SavedModels only, and says so.

Latency is measured on the exported files, the artefacts a deployer ships,
not on the Keras model: TensorFlow runs the SavedModel's `serving_default`
signature, ONNX Runtime (CPU provider, default threads) the ONNX file, both
through `training.common.model_export.exported_function` (a NumPy batch in,
NumPy outputs out: the raw head outputs, without decoding and NMS, which
stay in Python and cost the same for every model). The SavedModel is also
the graph the ONNX file was converted from, so both runtimes run the same
graph. The inputs are a fixed batch of random pixels at the run's size (the
cost of the exported graph does not depend on the values). For each batch
size (1 and 16) every run and runtime is a contender of
`training.common.timing.interleaved_wall_and_cpu`: after `LATENCY_WARMUP`
untimed calls, `latency_rounds` interleaved rounds of one call each, in an
order rotated from round to round. Reported: the median wall time per
image, and the ratio to the baseline run of the same seed on the same
runtime as the median of the per-round ratios (pairs measured moments
apart), with the 1-minute load average before and after. Absolute times on
a shared machine move with its load; the ratios are the figures to read.

The directory:

    SWEEP_DIR/
        sweep.json      the sweep's settings (config, seeds, caps)
        family.txt      the table (as printed), then how to read it
        family.json     the table's rows, every run's results, exports and
                        latency samples' medians, the machine's load
        family.png      mAP@0.5 against PANet FLOPs and against the latency
                        ratio to the baseline at batch 1 (TensorFlow), error
                        bars = 95% CI over seeds, the Pareto fronts drawn
"""

import dataclasses
import importlib.util
import json
import os
import pathlib

import numpy as np

from training.common import validators
from training.common.run_directory import RunDirectory
from training.common.run_directory import atomic_write_json
from training.common.run_directory import atomic_write_text
from training.common.run_directory import claim_sweep
from training.common.run_directory import read_json
from training.common.statistics import estimate_columns
from training.common.statistics import estimate_from_columns
from training.common.statistics import format_interval
from training.common.statistics import summarize
from training.common.tables import format_table
from training.detection.table1 import BASELINE
from training.detection.table1 import STATISTICS_NOTE
from training.detection.table1 import run_name
from training.detection.table1 import summarise
from training.detection.table1 import upgrade_settings

FORMATS = ("saved_model", "onnx")  # exported, and timed, in this order
RUNTIMES = {"saved_model": "TF", "onnx": "ORT"}  # who runs each format
BATCH_SIZES = (1, 16)
DEFAULT_LATENCY_ROUNDS = 15
LATENCY_WARMUP = 2
LATENCY_NOTE = (
    "latency: median wall ms per image over interleaved rounds (one call of every run and "
    "runtime per round, order rotated) of the exported raw outputs (no decoding/NMS) on random "
    "pixels; TF = the SavedModel's serving_default signature, ORT = ONNX Runtime (CPU); "
    "(x) = median per-round ratio to the baseline of the same seed and runtime, same rounds; "
    "mean over seeds. Pareto: on the front of mAP@0.5 (mean) against PANet FLOPs (F) and "
    "against the TF latency ratio at batch 1 (L)."
)


@dataclasses.dataclass(frozen=True)
class Cap:
    """One Resolution model's complexity cap.

    Attributes:
        text: The cap as given (`"6000"`, `"250MFLOPs"`): the model's label.
        value: The cap as a number (cells, or multiply-adds per image).
        definition: `"area"` (cells) or `"flops"`.
    """

    text: str
    value: float
    definition: str


def parse_caps(caps):
    """The caps of a family from their command-line texts.

    Args:
        caps: At least two caps: plain numbers (PANet cells) or numbers with
            a FLOPs unit (`"250MFLOPs"`).

    Returns:
        A list of `Cap`, in the order given.

    Raises:
        ValueError: naming `--caps`, for fewer than two caps, a cap that
            does not parse, or the same cap twice.

    Example:

    >>> [(cap.text, cap.value, cap.definition) for cap in parse_caps(["6000", "0.25GFLOPs"])]
    [('6000', 6000.0, 'area'), ('0.25GFLOPs', 250000000.0, 'flops')]
    """
    from keras_resolution.complexity_definitions import parse_complexity_cap

    texts = [str(cap).strip() for cap in caps]
    if len(texts) < 2:
        raise ValueError(f"--caps: a family needs at least two caps, got {len(texts)} "
                         f"({' '.join(texts) or 'none'}).")
    parsed = []
    for text in texts:
        value, definition = parse_complexity_cap(text, "--caps")
        cap = Cap(text, value, definition or "area")
        for other in parsed:
            if (other.value, other.definition) == (cap.value, cap.definition):
                raise ValueError(f"--caps: {other.text!r} and {text!r} are the same cap.")
        parsed.append(cap)
    return parsed


def cap_label(cap):
    """The model label of a cap's Resolution model, e.g. `resolution cap=6000`."""
    return f"resolution cap={cap.text}"


# Options that only a Resolution model reads: the baseline's run takes their
# defaults, so one baseline run serves families of any --hinge-weight etc.
RESOLUTION_ONLY_OPTIONS = ("hinge_weight", "transform", "taper", "scale_start", "static_sizes")


def family_runs(base_config, caps, seeds):
    """`(label, cap, config)` of every run of the family: per seed the
    baseline (cap None, `RESOLUTION_ONLY_OPTIONS` at their defaults, which
    it does not read), then one Resolution model per cap.

    Raises:
        ValueError: naming the option, if `base_config` sets a model other
            than `resolution` or a cap of its own (the family sets both).
    """
    if base_config.model != "resolution":
        raise ValueError(f"--model: a family is the baseline and Resolution models at each "
                         f"--caps, got --model {base_config.model}.")
    if base_config.complexity_cap is not None:
        raise ValueError("--complexity-cap: a family's caps are given by --caps.")
    caps = parse_caps(caps)
    defaults = {field.name: field.default for field in dataclasses.fields(base_config)
                if field.name in RESOLUTION_ONLY_OPTIONS}
    runs = []
    for seed in seeds:
        runs.append((BASELINE, None, dataclasses.replace(base_config, model="baseline",
                                                         seed=seed, **defaults)))
        for cap in caps:
            runs.append((cap_label(cap), cap, dataclasses.replace(
                base_config, complexity_cap=cap.value, complexity_definition=cap.definition,
                seed=seed)))
    return runs


def family_settings(base_config, seeds, caps):
    """The sweep.json of a family: its config, seeds and caps as given."""
    settings = {"sweep": "family", "config": dataclasses.asdict(base_config),
                "seeds": list(seeds), "caps": [str(cap).strip() for cap in caps]}
    return json.loads(json.dumps(settings, default=str))


def pareto_front(costs, qualities):
    """Which points are Pareto-optimal: no other point costs as little or
    less and scores as high or higher, one of the two strictly.

    Args:
        costs: Lower is better (FLOPs, milliseconds).
        qualities: Higher is better (mAP@0.5), one per cost.

    Returns:
        The indices of the points on the front, in increasing cost.

    Example:

    >>> pareto_front([1.0, 2.0, 3.0, 2.0], [0.5, 0.4, 0.6, 0.7])
    [0, 3]
    """
    points = list(zip(costs, qualities))
    if len(costs) != len(qualities):
        raise ValueError(f"pareto_front: {len(costs)} costs against {len(qualities)} qualities.")

    def dominated(index):
        cost, quality = points[index]
        return any(c <= cost and q >= quality and (c < cost or q > quality)
                   for c, q in points)

    return sorted((index for index in range(len(points)) if not dominated(index)),
                  key=lambda index: (points[index][0], -points[index][1]))


def available_formats(formats):
    """`(formats that can be exported here, notes on the ones skipped)`.

    Raises:
        ValueError: for a format that is not one of `FORMATS`, or formats
            without `saved_model` (the TensorFlow latencies and the
            parameter count are read from it).
    """
    formats = list(formats)
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or "saved_model" not in formats:
        raise ValueError(f"`formats` must include saved_model and may add onnx, got {formats}.")
    usable, notes = [], []
    for name in formats:
        missing = [package for package in ("tf2onnx", "onnxruntime")
                   if name == "onnx" and importlib.util.find_spec(package) is None]
        if missing:
            notes.append(f"ONNX skipped: {' and '.join(missing)} not installed "
                         "(pip install 'keras-resolution[export]').")
        else:
            usable.append(name)
    return usable, notes


def export_family_run(run_dir, formats, verbose=1):
    """Freezes and exports one finished run in every format, reusing an
    export already in `RUN_DIR/export-FORMAT`.

    Returns:
        `{format: {"path": artefact path, "max_abs_difference": to Keras,
        "check_inputs": what it was checked on, "input_shape": one input's
        shape}}`.
    """
    from training.common.model_export import ARTEFACT_NAMES
    from training.common.export import default_output
    from training.common.export import export_run

    exports = {}
    for format in formats:
        output = default_output(run_dir, format)
        if (output / "export.json").exists():
            description = read_json(output / "export.json")
        else:
            description = export_run(run_dir, format, output=output, verbose=verbose)
        exports[format] = {"path": str(output / ARTEFACT_NAMES[format]),
                           "max_abs_difference": description["check"]["max_abs_difference"],
                           "check_inputs": description["check"]["inputs"],
                           "input_shape": description["input"]["shape"][1:]}
    return exports


def saved_model_parameters(path):
    """Numbers held by the variables of a SavedModel (weights and batch
    normalisation statistics: the frozen model's parameters)."""
    import tensorflow as tf

    variables = tf.saved_model.load(str(path)).variables
    return int(sum(np.prod(variable.shape) for variable in variables))


def measure_latency(functions, references, input_shape, rounds,
                    batch_sizes=BATCH_SIZES, warmup=LATENCY_WARMUP):
    """Latency per image of every run on every runtime, interleaved.

    Args:
        functions: `{run: {runtime: function}}`, each function taking a
            float32 NumPy batch of `input_shape` (what
            `training.common.model_export.exported_function` returns).
        references: `{run: the run its ratios are to}` (for a family, the
            baseline of the same seed); every run needs one, itself
            included for a baseline, timed on the same runtimes.
        input_shape: `(height, width, channels)` of one input.
        rounds: Interleaved rounds per batch size (samples per contender),
            at least 2.
        batch_sizes: Batch sizes, each timed in rounds of its own.
        warmup: Untimed calls of each contender before the first round.

    Returns:
        Dict with `load_average_before` and `load_average_after` (1, 5 and
        15 minutes, lists), `rounds`, `warmup`, and `batches`:
        `{batch size: {runtime: {run: {"ms_per_image", "ms_per_call",
        "ms_per_call_iqr", "cpu_ms_per_call", "ratio", "cpu_ratio"}}}}`
        (medians; ratios as medians of per-round ratios to the reference).

    Example:

    >>> import time
    >>> result = measure_latency({"a": {"TF": lambda x: time.sleep(0.002)},
    ...                           "b": {"TF": lambda x: time.sleep(0.004)}},
    ...                          {"a": "a", "b": "a"}, (2, 2, 3), rounds=3, batch_sizes=(1,))
    >>> round(result["batches"][1]["TF"]["b"]["ratio"])
    2
    """
    from training.common import timing

    validators.check_positive_int("--latency-rounds", rounds)
    if rounds < 2:
        raise ValueError(f"--latency-rounds must be at least 2 (quartiles), got {rounds}.")
    for run, reference in references.items():
        if set(functions[run]) - set(functions[reference]):
            raise ValueError(f"measure_latency: {reference!r}, the reference of {run!r}, is not "
                             "timed on the same runtimes.")
    before = list(os.getloadavg())
    batches = {}
    for batch in batch_sizes:
        rng = np.random.default_rng(batch)
        inputs = rng.uniform(0.0, 255.0, (batch, *input_shape)).astype("float32")
        contenders = {(run, runtime): (lambda function=function: function(inputs))
                      for run, by_runtime in functions.items()
                      for runtime, function in by_runtime.items()}
        wall, cpu = timing.interleaved_wall_and_cpu(contenders, rounds, warmup)
        table = {}
        for (run, runtime), samples in wall.items():
            reference = (references[run], runtime)
            first, third = timing.quartiles(samples)
            table.setdefault(runtime, {})[run] = {
                "ms_per_call": timing.median(samples),
                "ms_per_image": timing.median(samples) / batch,
                "ms_per_call_iqr": [first, third],
                "cpu_ms_per_call": timing.median(cpu[(run, runtime)]),
                "ratio": timing.paired_ratio(wall, (run, runtime), reference),
                "cpu_ratio": timing.paired_ratio(cpu, (run, runtime), reference),
            }
        batches[batch] = table
    return {"load_average_before": before, "load_average_after": list(os.getloadavg()),
            "rounds": rounds, "warmup": warmup, "batches": batches}


def _latency_key(runtime, batch):
    return f"latency_{runtime.lower()}_b{batch}"


def summarise_family(results_by_label, caps_by_label, latency=None, parameters=None):
    """Each model's row: the Table 1 statistics (`table1.summarise`: mAP@0.5
    and PANet cells over seeds, paired difference from the baseline), its
    cap, PANet FLOPs over seeds, the exported parameters, its latencies and
    whether it is on the Pareto fronts.

    Args:
        results_by_label: `{label: [run results]}` (results.json dicts with
            `map50`, `panet_complexity`, `panet_flops`, `trainable_params`,
            `seed`, and `run` = the run's directory name).
        caps_by_label: `{label: cap text or None}`.
        latency: `measure_latency`'s result over those runs, or None.
        parameters: `{run: parameters of its SavedModel}`, or None.

    Returns:
        The rows of `table1.summarise`, each with `cap`, `panet_flops_*`
        (mean, std, 95% interval), `parameters` (None if unknown), for
        every timed batch size and runtime `latency_<runtime>_b<batch>_*`
        (mean, std and interval over seeds of ms per image) and
        `latency_<runtime>_b<batch>_ratio_*` (the same of the ratio to the
        baseline), and `pareto_flops`, `pareto_latency` (booleans: on the
        front of mAP@0.5 against PANet FLOPs, and against the TF latency
        ratio at batch 1, which the load of a shared machine moves less
        than milliseconds; the latter None without TF latencies).
    """
    rows = summarise(results_by_label)
    batches = (latency or {}).get("batches", {})
    for row in rows:
        results = results_by_label[row["model"]]
        runs = [result["run"] for result in results]
        row["cap"] = caps_by_label[row["model"]]
        row.update(estimate_columns("panet_flops",
                                    summarize([result["panet_flops"] for result in results])))
        counts = {(parameters or {}).get(run) for run in runs}
        row["parameters"] = counts.pop() if len(counts) == 1 else None
        for batch, by_runtime in batches.items():
            for runtime, by_run in by_runtime.items():
                timed = [by_run[run] for run in runs if run in by_run]
                if len(timed) != len(runs):
                    continue
                key = _latency_key(runtime, batch)
                row.update(estimate_columns(key, summarize([t["ms_per_image"] for t in timed])))
                row.update(estimate_columns(key + "_ratio",
                                            summarize([t["ratio"] for t in timed])))
    flops = pareto_front([row["panet_flops_mean"] for row in rows],
                         [row["map50_mean"] for row in rows])
    latency_key = _latency_key("TF", 1) + "_ratio_mean"
    timed = all(latency_key in row for row in rows)
    on_latency = pareto_front([row[latency_key] for row in rows],
                              [row["map50_mean"] for row in rows]) if timed else []
    for index, row in enumerate(rows):
        row["pareto_flops"] = index in flops
        row["pareto_latency"] = (index in on_latency) if timed else None
    return rows


def format_family(rows):
    """The family as a text table: model, cap, runs, mAP@0.5 (mean +- std
    in %, 95% interval), PANet cells and MFLOPs (means), the exported
    parameters, the latencies (ms per image, with the ratio to the
    baseline), and the Pareto fronts it is on. See `LATENCY_NOTE`.

    Example:

    >>> print(format_family(summarise_family(
    ...     {"baseline": [{"map50": 0.5, "panet_complexity": 7360.0, "panet_flops": 2e8,
    ...                    "trainable_params": 10, "seed": 0, "run": "baseline_seed0"}]},
    ...     {"baseline": None}, parameters={"baseline_seed0": 1234})))
    Model     cap  runs  mAP@0.5  mAP@0.5 95% CI  PANet cells  PANet MFLOPs  params  Pareto
    --------  ---  ----  -------  --------------  -----------  ------------  ------  ------
    baseline  -    1     50.0%    -               7,360        200.0         1,234   F
    """
    latency_columns = []
    for runtime in RUNTIMES.values():
        for batch in BATCH_SIZES:
            key = _latency_key(runtime, batch)
            if any(key + "_mean" in row for row in rows):
                latency_columns.append((f"{runtime} b{batch} ms", key))
    cells = []
    for row in rows:
        spread = f" +- {100 * row['map50_std']:.1f}" if row["runs"] > 1 else ""
        pareto = ("F" if row["pareto_flops"] else "") + ("L" if row["pareto_latency"] else "")
        cell = {
            "Model": row["model"],
            "cap": row["cap"],
            "runs": row["runs"],
            "mAP@0.5": f"{100 * row['map50_mean']:.1f}%{spread}",
            "mAP@0.5 95% CI": format_interval(estimate_from_columns(row, "map50"), 100),
            "PANet cells": f"{row['panet_complexity_mean']:,.0f}",
            "PANet MFLOPs": f"{row['panet_flops_mean'] / 1e6:,.1f}",
            "params": None if row["parameters"] is None else f"{row['parameters']:,}",
            "Pareto": pareto or "-",
        }
        for title, key in latency_columns:
            if key + "_mean" in row:
                cell[title] = f"{row[key + '_mean']:.1f} ({row[key + '_ratio_mean']:.2f}x)"
        cells.append(cell)
    columns = ["Model", "cap", "runs", "mAP@0.5", "mAP@0.5 95% CI", "PANet cells",
               "PANet MFLOPs", "params"] + [title for title, _ in latency_columns] + ["Pareto"]
    return format_table(cells, columns)


def _load_line(latency):
    if not latency:
        return "latency: not measured."
    return (f"load average (1, 5, 15 min) before the timing "
            f"{' '.join(f'{v:.2f}' for v in latency['load_average_before'])}, after "
            f"{' '.join(f'{v:.2f}' for v in latency['load_average_after'])}; "
            f"{latency['rounds']} rounds, {latency['warmup']} warm-up calls, "
            f"{os.cpu_count()} logical cores.")


def family_text(rows, latency, notes=()):
    """The table, the machine's load during the timing, how to read it."""
    return "\n\n".join([format_family(rows), _load_line(latency), STATISTICS_NOTE,
                        LATENCY_NOTE, *notes])


def _check_settings(settings, sweep_dir):
    path = pathlib.Path(sweep_dir) / "sweep.json"
    if not path.exists():
        raise FileNotFoundError(f"{sweep_dir}: no sweep there ({path} is missing).")
    if upgrade_settings(read_json(path)) != settings:
        raise ValueError(f"{path} holds a sweep with other settings than these options.")


def with_panet_flops(results, run_dir):
    """A run's results with `panet_flops`: runs recorded before the FLOPs
    count existed get it from their best checkpoint (the count every newer
    run records, `detection.panet_complexity(model, "flops")`)."""
    if "panet_flops" in results:
        return results
    import detection
    from training.detection.job import load_detector

    model = load_detector(RunDirectory(run_dir).checkpoint("best"))
    return {**results, "panet_flops": float(detection.panet_complexity(model, "flops"))}


def report_family(base_config, caps, seeds, sweep_dir):
    """Prints the table of the finished runs of the family in `sweep_dir`,
    with the latencies of its last family.json where they cover them;
    trains, exports, times and writes nothing.

    Returns:
        The rows of `summarise_family`.
    """
    sweep_dir = pathlib.Path(sweep_dir)
    runs = family_runs(base_config, caps, seeds)
    _check_settings(family_settings(base_config, seeds, caps), sweep_dir)
    results_by_label, caps_by_label, missing = {}, {}, []
    for label, cap, config in runs:
        run = RunDirectory(sweep_dir / run_name(label, config.seed))
        if run.results_json.exists() and run.read_state().finished:
            results = {**with_panet_flops(read_json(run.results_json), run.path),
                       "seed": config.seed, "run": run.path.name}
            results_by_label.setdefault(label, []).append(results)
            caps_by_label[label] = None if cap is None else cap.text
        else:
            missing.append(run.path.name)
    if not results_by_label:
        raise ValueError(f"{sweep_dir}: no run of the family has finished yet.")
    saved = sweep_dir / "family.json"
    stored = read_json(saved) if saved.exists() else {}
    latency, parameters = stored.get("latency"), stored.get("parameters")
    if latency:  # JSON keys are strings; the batch sizes are numbers.
        latency = {**latency, "batches": {int(b): t for b, t in latency["batches"].items()}}
    rows = summarise_family(results_by_label, caps_by_label, latency, parameters)
    done = sum(len(results) for results in results_by_label.values())
    print(f"{sweep_dir}: {done} of {done + len(missing)} runs finished"
          + (f"; not yet: {', '.join(missing)}" if missing else "")
          + ("" if latency else "; no latencies yet (family.json not written)") + "\n")
    print(family_text(rows, latency))
    return rows


def run_family(base_config, caps, seeds, sweep_dir, verbose=1, report_only=False,
               latency_rounds=DEFAULT_LATENCY_ROUNDS, formats=FORMATS):
    """Trains the family (reusing finished runs, resuming an interrupted
    one), freezes and exports every run, times the exports on this machine,
    then prints and saves the table and its plot.

    Args:
        base_config: `DetectionConfig` shared by every run (model, cap and
            seed are set per run; its model must be `resolution` and its
            cap None).
        caps: At least two caps, as `--caps` takes them (`parse_caps`).
        seeds: Seeds; every model runs once per seed.
        sweep_dir: Directory of the sweep (see the module docstring).
        verbose: Progress of each run and export (1) or silence (0).
        report_only: Train and write nothing: print the table of the runs
            finished so far (`report_family`).
        latency_rounds: Interleaved timing rounds per batch size.
        formats: Export formats, `saved_model` and optionally `onnx`
            (skipped, with a note, without the optional extra).

    Returns:
        The rows of `summarise_family` (also in `family.json`).

    Raises:
        ValueError: naming the option, for bad caps, seeds or rounds.
        FileExistsError: if `sweep_dir` holds a sweep with other settings.

    Example:

    ```python
    run_family(DetectionConfig(data="embedded"), ["6000", "7360", "250MFLOPs"], [0],
               "runs/family")
    ```
    """
    from training.detection.job import train_detection
    from training.detection.plots import plot_family

    if not seeds:
        raise ValueError("--seeds: at least one seed.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds: each seed once, got {list(seeds)}.")
    runs = family_runs(base_config, caps, seeds)
    if report_only:
        return report_family(base_config, caps, seeds, sweep_dir)
    validators.check_positive_int("--latency-rounds", latency_rounds)
    if latency_rounds < 2:
        raise ValueError(f"--latency-rounds must be at least 2, got {latency_rounds}.")
    formats, notes = available_formats(formats)
    sweep_dir = pathlib.Path(sweep_dir)
    claim_sweep(sweep_dir, family_settings(base_config, seeds, caps), upgrade=upgrade_settings)

    results_by_label, caps_by_label = {}, {}
    for label, cap, config in runs:
        run_dir = sweep_dir / run_name(label, config.seed)
        results = train_detection(config, run_dir, resume=RunDirectory(run_dir).holds_run(),
                                  verbose=verbose)
        results = {**with_panet_flops(results, run_dir), "seed": config.seed, "run": run_dir.name}
        results_by_label.setdefault(label, []).append(results)
        caps_by_label[label] = None if cap is None else cap.text

    from training.common.model_export import exported_function

    exports, functions, parameters, references = {}, {}, {}, {}
    for label, cap, config in runs:
        name = run_name(label, config.seed)
        exports[name] = export_family_run(sweep_dir / name, formats, verbose)
        functions[name] = {RUNTIMES[format]: exported_function(exports[name][format]["path"],
                                                               format)
                           for format in formats}
        parameters[name] = saved_model_parameters(exports[name]["saved_model"]["path"])
        references[name] = run_name(BASELINE, config.seed)
    shapes = {tuple(export["saved_model"]["input_shape"]) for export in exports.values()}
    if len(shapes) != 1:
        raise ValueError(f"{sweep_dir}: the family's exports take inputs of shapes {shapes}.")
    input_shape = shapes.pop()
    if verbose:
        print(f"Timing {len(functions)} runs x {len(formats)} runtimes at batch sizes "
              f"{', '.join(map(str, BATCH_SIZES))}: {latency_rounds} interleaved rounds",
              flush=True)
    latency = measure_latency(functions, references, input_shape, latency_rounds)

    rows = summarise_family(results_by_label, caps_by_label, latency, parameters)
    text = family_text(rows, latency, notes)
    print("\n" + text)
    atomic_write_text(sweep_dir / "family.txt", text + "\n")
    atomic_write_json(sweep_dir / "family.json", {
        "settings": family_settings(base_config, seeds, caps), "rows": rows,
        "runs": results_by_label, "exports": exports, "parameters": parameters,
        "latency": latency, "notes": [STATISTICS_NOTE, LATENCY_NOTE, *notes],
        "versions": _versions(formats)})
    plot_family(rows, sweep_dir / "family.png")
    return rows


def _versions(formats):
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__}
    if "onnx" in formats:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    return versions
