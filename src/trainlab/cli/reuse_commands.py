"""Reusing models: train's --pretrained/--weights/--freeze/--fine-tune flags, torchvision's
models in `trainlab models`, and `trainlab export`. Parsing only; the workflows do the work."""
from __future__ import annotations

import argparse

from ..models import list_torchvision_models
from ..models.torchvision_zoo import parameter_count
from ..workflows.export import FORMATS, export_run


def add_transfer_arguments(parser: argparse.ArgumentParser) -> None:
    S = argparse.SUPPRESS
    group = parser.add_argument_group(
        "starting from trained weights",
        "The head is replaced for the data's classes. With --pretrained (or --weights on a "
        "tv: model or resnet18) images get the weights' own preprocessing: resized and "
        "centre-cropped to the weights' size (--image-size S: S x S, no crop), 3 channels "
        "(single-channel images repeated), the weights' mean/std.")
    group.add_argument("--pretrained", action="store_true", default=S,
                       help="start from torchvision's published ImageNet weights (tv:NAME, "
                       "resnet18), through torchvision's weights API and cache "
                       "($TORCH_HOME/hub/checkpoints); downloaded once when online")
    group.add_argument("--weights", default=S, metavar="FILE",
                       help="start from a local state dict: .pth/.pt (read with "
                       "weights_only=True) or .safetensors; resnet18 also takes torchvision's "
                       "resnet18 names")
    group.add_argument("--freeze", choices=("none", "backbone"), default=S,
                       help="backbone: train only the head; the backbone's weights and "
                       "BatchNorm statistics stay as loaded (default: none)")
    group.add_argument("--fine-tune", action="store_true", default=S,
                       help="train the head alone for --fine-tune-head-epochs, then everything "
                       "at --lr times --fine-tune-lr-factor")
    group.add_argument("--fine-tune-head-epochs", type=int, default=S, metavar="N",
                       help="with --fine-tune: epochs for the head alone (default: 1)")
    group.add_argument("--fine-tune-lr-factor", type=float, default=S, metavar="F",
                       help="with --fine-tune: the lr of the second stage is --lr x F "
                       "(default: 0.1)")


def print_torchvision_models() -> None:
    names = list_torchvision_models()
    print(f"\ntorchvision's {len(names)} classification models (--model tv:NAME; --pretrained "
          "starts from ImageNet weights; parameters with the 1000-class head):")
    for name in names:
        print(f"{name:<28} {parameter_count(name):>13,} params")


def add_export_parser(commands) -> None:
    export = commands.add_parser(
        "export", help="export a run's model as ONNX, TorchScript or a self-describing bundle, "
        "checked against the checkpoint",
        description="Write the run's model as ONNX (torch.onnx.export with the dynamo exporter, "
        "dynamic batch dimension; needs onnx, onnxscript, onnxruntime: pip install "
        "'trainlab[export]'), TorchScript (scripted, or traced when it cannot be scripted) or a "
        "bundle folder (model.safetensors + model.json, loadable with trainlab.load_bundle). "
        "The written file is run again on images of the run's test split and compared with "
        "the checkpoint: max |logit difference| <= 1e-4 (1e-6 of the largest |logit| when "
        "that is above 100) and the same top-1 class, or the export fails and the file is "
        "removed. ONNX and TorchScript files get model.json "
        "beside them, which `trainlab predict FILE.onnx` reads.")
    export.add_argument("run", help="run directory")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--out", default=None, metavar="PATH",
                        help="file (onnx, torchscript) or folder (bundle); default: "
                        "RUN/export/model.onnx, model.pt or bundle/")
    export.add_argument("--checkpoint", default=None, metavar="best|last|FILE",
                        help="best (default), last, or the path of a checkpoint of this run")


def command_export(args) -> int:
    export_run(args.run, args.format, out=args.out, checkpoint=args.checkpoint)
    return 0
