"""`export_run(run, format)`: a run's model as ONNX, TorchScript or a bundle, checked for parity.

Every export is run again from the written file (onnxruntime for ONNX, `torch.jit.load` for
TorchScript, `load_bundle` for a bundle) on real images of the run's own test split, and
compared with the checkpoint in PyTorch: the largest absolute logit difference must be at most
1e-4 (fp32) and the top-1 class the same for every image. A file that fails is removed and the
export fails, so a file that exists has passed.

Logits far from zero carry fp32's relative rounding, so beyond |logit| = 100 the limit grows
with them: max(1e-4, 1e-6 x the largest |logit|). A barely trained ResNet-18 on generated
images gave logits of 8.6e4, and its faithful ONNX file differed by 3.5e-2 there (4e-7
relative); usual logits (|z| < 100) keep the plain 1e-4.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import DataError
from ..data.transforms import normalize
from ..engine.checkpoint import atomic_write
from .bundle import MODEL_JSON, WEIGHTS, load_bundle, model_json, write_bundle, write_model_json
from .config import build_config, dataset_for
from .run_dir import load_run_model, resolve_run_dir

FORMATS = ("onnx", "torchscript", "bundle")
DEFAULT_NAMES = {"onnx": "model.onnx", "torchscript": "model.pt", "bundle": "bundle"}
MAX_ABS_DIFF = 1e-4  # fp32: a faithful export differs by rounding only; see the module's note
MAX_RELATIVE_DIFF = 1e-6  # of the largest |logit|, when that is above 100
PARITY_SAMPLES = 32
EXPORT_BATCH = 2  # the example batch; the batch dimension is exported as dynamic
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


class ExportError(ValueError):
    """An export that could not be made or did not match the checkpoint; says why."""


@dataclass
class ExportResult:
    path: Path
    format: str
    samples: int
    max_abs_diff: float
    top1_agree: int
    limit: float = MAX_ABS_DIFF  # or MAX_RELATIVE_DIFF x the largest |logit|, if larger
    method: str = ""  # TorchScript: "script" or "trace"
    inputs: str = "test images of the run"  # or random images, where the run's data is not here

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.limit and self.top1_agree == self.samples

    def line(self) -> str:
        how = f" ({self.method})" if self.method else ""
        return (f"parity on {self.samples} {self.inputs}: max |logit difference| "
                f"{self.max_abs_diff:.2e} (limit {self.limit:.2g}), top-1 identical for "
                f"{self.top1_agree}/{self.samples}; wrote {self.path}{how}")


def parity_images(run_dir: Path, meta: dict, count: int = PARITY_SAMPLES,
                  echo=print) -> tuple[torch.Tensor, str]:
    """(the first `count` images of the run's test split, prepared as the model sees them,
    what they are). Where the run's data cannot be read (moved, deleted, another machine),
    `count` random images of the checkpoint's shape instead, said in a note: the export is still
    checked against the checkpoint, on other inputs."""
    prep = meta["preprocessing"]
    try:
        data = dataset_for(build_config(run_dir / "config.yaml"))
    except DataError as error:
        echo(f"note: the run's data cannot be read here ({error}); parity is checked on {count} "
             "random images instead")
        shape = (count, prep["channels"], *prep["image_size"])
        images = torch.randint(0, 256, shape, dtype=torch.uint8,
                               generator=torch.Generator().manual_seed(0))
        return normalize(images, torch.tensor(prep["mean"]), torch.tensor(prep["std"])), \
            "random images (the run's data is not here)"
    images = data.test.images[:count]
    if tuple(images.shape[1:]) != (prep["channels"], *prep["image_size"]):
        raise ExportError(f"the run's data now gives {tuple(images.shape[1:])} images but the "
                          f"checkpoint takes {(prep['channels'], *prep['image_size'])}")
    return normalize(images, torch.tensor(prep["mean"]), torch.tensor(prep["std"])), \
        "test images of the run"


def require_onnx_packages() -> None:
    missing = []
    for name in ONNX_PACKAGES:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ExportError(f"--format onnx needs the package(s) {', '.join(missing)}: "
                          f"pip install {' '.join(missing)} (or pip install 'trainlab[export]')")


def write_onnx(model, example: torch.Tensor, path: Path) -> str:
    """torch.onnx.export with the dynamo exporter, batch dimension dynamic. Modules with a
    `for_onnx` attribute (fastcnn's global max-pool) compute the ONNX-friendly way meanwhile."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    onnx_aware = [m for m in model.modules() if hasattr(m, "for_onnx")]

    def export(temporary):
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # the exporter's progress notes are not news
            torch.onnx.export(model, (example,), temporary, dynamo=True,
                              dynamic_shapes=({0: batch},), input_names=["images"],
                              output_names=["logits"], external_data=False)

    for module in onnx_aware:
        module.for_onnx = True
    try:
        atomic_write(path, export)
    finally:
        for module in onnx_aware:
            module.for_onnx = False
    return ""


def run_onnx(path: Path):
    """A function from a float batch to logits, running `path` with onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def logits(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: x.detach().cpu().float().numpy()})[0])

    return logits


def write_torchscript(model, example: torch.Tensor, path: Path) -> str:
    """Scripting keeps Python control flow; models it cannot compile (or whose scripted form
    returns something other than one logits tensor) are traced instead."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notes
        try:
            module, method = torch.jit.script(model), "script"
            # Scripted GoogLeNet/Inception return a tuple with their (absent) auxiliary heads.
            if not isinstance(module(example), torch.Tensor):
                raise TypeError("the scripted model does not return one tensor")
        except Exception:
            module, method = torch.jit.trace(model, example, check_trace=False), "trace"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        atomic_write(path, lambda temporary: torch.jit.save(module, temporary))
    return method


def export_run(run: str | Path, format: str, out: str | Path | None = None,
               checkpoint: str | None = None, echo=print) -> ExportResult:
    """Export a run's checkpoint (`checkpoint`: best, last or a path) as `format` to `out`
    (default RUN/export/model.onnx, model.pt or bundle/), check parity on the run's test images
    (random ones where its data cannot be read),
    print and return the figures. ONNX and TorchScript files get model.json beside them (what
    `predict` needs)."""
    if format not in FORMATS:
        raise ExportError(f"--format {format!r} is not one of: {', '.join(FORMATS)}")
    if format == "onnx":
        require_onnx_packages()
    run_dir = resolve_run_dir(run)
    model, meta = load_run_model(run_dir, checkpoint, device="cpu")
    if meta.get("inputs", "image") != "image":
        raise ExportError(f"{run_dir} was trained on {meta['inputs']} ({meta.get('data')}): export "
                          "writes image models only; use the run itself with `trainlab predict "
                          f"{run_dir} --table FILE` (or --text), or load its best.safetensors")
    path = Path(out) if out else run_dir / "export" / DEFAULT_NAMES[format]
    if format != "bundle" and path.is_dir():
        path = path / DEFAULT_NAMES[format]
    try:
        images, inputs = parity_images(run_dir, meta, echo=echo)
        result = export_model(model, meta, images, format, path)
    except ExportError as error:
        raise ExportError(f"{run_dir}: {error}") from error
    result.inputs = inputs
    echo(result.line())
    return result


def export_model(model, meta: dict, images: torch.Tensor, format: str,
                 path: Path) -> ExportResult:
    """Write `model` (described by checkpoint metadata `meta`) as `format` at `path`, run the
    written file on `images` (normalised, as the model takes them) and compare with `model`.
    A failed export or check removes the file and raises ExportError."""
    model = model.float().eval()
    with torch.no_grad():
        reference = model(images)
    example = images[:EXPORT_BATCH]
    method = ""
    try:
        if format == "onnx":
            write_onnx(model, example, path)
            exported = run_onnx(path)
        elif format == "torchscript":
            method = write_torchscript(model, example, path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TorchScript's deprecation notes
                exported = torch.jit.load(str(path)).eval()
        else:
            write_bundle(model, meta, path)
            exported = load_bundle(path)
        with torch.no_grad():
            logits = exported(images)
    except Exception as error:
        remove_export(path)
        raise ExportError(f"could not export {meta['model']} as {format}: "
                          f"{type(error).__name__}: {str(error).splitlines()[0][:300]}") from error
    result = compare_logits(reference, logits, path, format, method)
    if not result.passed:
        remove_export(path)
        raise ExportError(f"the {format} export does not match the checkpoint: "
                          f"{result.line().split('; wrote')[0]}; the file was removed")
    parity = {"samples": result.samples, "max_abs_logit_diff": result.max_abs_diff,
              "limit": result.limit, "top1_agree": result.top1_agree}
    json_path = path / MODEL_JSON if format == "bundle" else path.parent / MODEL_JSON
    write_model_json(json_path, model_json(meta, WEIGHTS if format == "bundle" else path.name,
                                           parity))
    return result


def compare_logits(reference, logits, path, format, method="") -> ExportResult:
    """The parity figures of `logits` (the export's) against `reference` (the checkpoint's)."""
    logits = torch.as_tensor(logits).float()
    limit = max(MAX_ABS_DIFF, MAX_RELATIVE_DIFF * reference.abs().max().item())
    if logits.shape != reference.shape:
        return ExportResult(path, format, len(reference), float("inf"), 0, limit, method)
    diff = (logits - reference).abs().max().item()
    agree = int((logits.argmax(1) == reference.argmax(1)).sum())
    return ExportResult(path, format, len(reference), diff, agree, limit, method)


def remove_export(path: Path) -> None:
    """Remove what a failed export wrote (a bundle folder only if nothing else is in it)."""
    with contextlib.suppress(OSError):
        if path.is_dir():
            for name in (WEIGHTS, MODEL_JSON):
                (path / name).unlink(missing_ok=True)
            path.rmdir()
        else:
            path.unlink(missing_ok=True)
