"""The Runner: the courses' training loop (seed 001 `RunnerV3`, seed 000 `Runner`), made fast
and observable without changing how it is called.

    runner = Runner(model, optimizer, F.cross_entropy, Accuracy())
    runner.train(train_loader, dev_loader, num_epochs=5, log_steps=15, eval_steps=15,
                 save_path="best_model.pdparams")
    runner.load_model("best_model.pdparams")
    score, loss = runner.evaluate(test_loader)

Beyond the course: the model and batches go to a chosen device (auto: cuda, mps, cpu), an
optional precision (bf16/fp16 autocast) and per-step LR scheduler, a `history` of metric rows,
callbacks, and a progress bar. Step losses are kept on the device and read in bulk, so a GPU is
not stalled by a host sync every step.
"""
from __future__ import annotations

import math
import random
import sys
import time

import numpy as np
import torch

from . import distributed
from .checkpoint import load_state_dict, save_state_dict, unwrap_model
from .compiling import begin_step, compile_model, warm_up
from .device import (
    autocast_factory,
    move_batch,
    move_inputs,
    resolve_device,
    resolve_precision,
    uses_convolutions,
)
from .metrics import count_correct
from .single_pixel import use_single_pixel_path
from .tap_trimming import NoTrimming, TapTrimmer, trims_taps


class Runner:
    def __init__(self, model, optimizer, loss_fn, metric=None, *, device="auto", scheduler=None,
                 precision="fp32", channels_last=None, callbacks=(), progress=None,
                 checkpoint_metadata=None, compile="none", test_time_flip=False,
                 course_log=True, cudnn_benchmark=True, clip_grad_norm=None, trim_taps=True):
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        # channels_last is what makes bf16 convolutions fast on CPUs (oneDNN); in fp32 it was
        # slower here, so by default it goes with bf16 only.
        if channels_last is None:
            channels_last = self.precision != "fp32" and uses_convolutions(model)
        self.channels_last = channels_last
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        # Convolutions with a one-pixel output (ResNet-18's last stage on 28x28 images) skip the
        # padding's zeros: same result, measured faster on CPUs (engine/single_pixel.py).
        if self.device.type == "cpu":
            use_single_pixel_path(model)
        # Under torchrun the model is wrapped in DistributedDataParallel; checkpoints are always
        # saved from the plain module inside (`unwrap_model`).
        self.model = distributed.wrap_model(model.to(self.device), self.device)
        # --compile: the training step runs the compiled model; evaluation and prediction run
        # the plain one (see engine/compiling.py). compile_seconds is kept out of train_seconds.
        self.eval_model = self.model
        self.compile_mode = compile
        self.model = compile_model(self.model, compile)
        self.compile_seconds = 0.0
        # Test-time augmentation: score each image and its mirror image, average the logits.
        self.test_time_flip = test_time_flip
        self._compiled_for: set = set()
        if self.device.type == "cuda" and not torch.are_deterministic_algorithms_enabled():
            # Fixed image sizes: let cuDNN time its convolution algorithms once per shape and
            # keep the fastest. The timing costs seconds, which a run of a few seconds may not win
            # back (hence the option).
            torch.backends.cudnn.benchmark = cudnn_benchmark
        self.optimizer = optimizer
        # engine/tap_trimming.py (trim_taps=False steps whole kernels: for benchmarks)
        self._may_trim_taps = trim_taps and trims_taps(optimizer, self.device, compile,
                                                       clip_grad_norm)
        self._trimmer = NoTrimming()
        self._restored_taps: dict = {}
        self.padding_only_weights_not_stepped = 0  # by the last train()
        self.loss_fn = loss_fn
        self.metric = metric
        # Seed 000's gradient clipping: the norm of all gradients together is at most this.
        self.clip_grad_norm = clip_grad_norm
        self.scheduler = scheduler
        self.autocast = autocast_factory(self.device, self.precision)
        self.callbacks = list(callbacks)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._bar = None  # the tqdm bar while one is shown: lines are written above it
        # The course's log lines ("[Train] epoch: 0/5, step: 0/100, ...", epochs from 0). The
        # CLI turns them off and prints its own through `write` (workflows/console_log.py).
        self.course_log = course_log
        self.checkpoint_metadata = checkpoint_metadata or {}
        # The course's records, with the course's names and shapes.
        self.dev_scores: list[float] = []
        self.train_epoch_losses: list[float] = []
        self.train_step_losses: list[tuple[int, float]] = []
        self.dev_losses: list[tuple[int, float]] = []
        # Accuracy starts from the course's 0; a score that can be negative (regression's R^2)
        # says where it starts (`lowest`), and which metrics.csv column it fills (`column`).
        self.best_score = getattr(metric, "lowest", 0)
        self.score_column = getattr(metric, "column", "accuracy")
        # trainlab's own records: one row per logged step, evaluation and epoch.
        self.history: list[dict] = []
        self.epoch = 0
        self.global_step = 0
        self.saved_best = False
        self.stopwatch = Stopwatch(self.device)
        self.train_images = 0
        self._epoch_totals = self._zero_totals()
        self._pending_losses: list[tuple[int, torch.Tensor]] = []
        self._resuming = False
        # A NaN/inf loss is caught at the step it happens on CPU; on a GPU checking every step
        # would stall it, so it is caught at the next log/evaluation/checkpoint (before any save).
        self.check_every_step = self.device.type == "cpu"
        # Under torchrun every process runs this loop; only rank 0 prints and saves.
        self.is_main = distributed.is_main_process()

    @property
    def train_seconds(self) -> float:
        """Seconds spent training (data, forward, backward, step), without evaluation/saving."""
        return self.stopwatch.total

    # -- training ------------------------------------------------------------------------------
    def train(self, train_loader, dev_loader=None, **kwargs):
        num_epochs = kwargs.get("num_epochs", 0)
        log_steps = kwargs.get("log_steps", 100)
        eval_steps = kwargs.get("eval_steps", 0)
        save_path = kwargs.get("save_path", "best_model.pdparams")
        custom_print_log = kwargs.get("custom_print_log")
        # trainlab: evaluate after the last step of every epoch (what the CLI uses).
        eval_at_epoch_end = kwargs.get("eval_at_epoch_end", False)
        steps_per_epoch = len(train_loader)
        num_training_steps = num_epochs * steps_per_epoch
        if (eval_steps or eval_at_epoch_end) and self.metric is None:
            raise RuntimeError("Error: Metric can not be None!")
        if (eval_steps or eval_at_epoch_end) and dev_loader is None:
            raise RuntimeError("Error: dev_loader can not be None!")

        if not self._resuming:  # a fresh call starts over, as the course's train() does
            self.epoch, self.global_step, self.saved_best = 0, 0, False
            self._epoch_totals = self._zero_totals()
        self._resuming = False
        if self.compile_mode != "none" and id(train_loader) not in self._compiled_for:
            self.compile_seconds += warm_up(self, train_loader)
            self._compiled_for.add(id(train_loader))
        self.model.train()
        # Single-pixel convolutions: the optimizer steps only their in-image taps (see
        # engine/tap_trimming.py); not when a callback may read the model's own gradients.
        self._trimmer = (TapTrimmer(self.eval_model, self.optimizer, self._restored_taps)
                         if self._may_trim_taps and not custom_print_log else NoTrimming())
        self._restored_taps = {}  # (a resumed run's, for its first train() only)
        try:
            while self.epoch < num_epochs:
                epoch = self.epoch
                totals = self._epoch_totals
                self.stopwatch.start()  # training time: paused for evaluation and checkpoints
                for X, y in self._progress(train_loader, epoch, num_epochs):
                    step = self.global_step
                    X, y = move_batch(X, y, self.device, self.channels_last)
                    begin_step(self.compile_mode)
                    with self.autocast():
                        logits = self.model(X)
                        loss = self.loss_fn(logits, y)
                    loss.backward()
                    if custom_print_log:
                        custom_print_log(self)
                    if self.clip_grad_norm:
                        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
                    self._trimmer.before_step()
                    self.optimizer.step()
                    self._trimmer.after_step()
                    self.optimizer.zero_grad(set_to_none=True)
                    if self.scheduler is not None:
                        self.scheduler.step()

                    totals["loss"] += loss.detach().float()
                    totals["batches"] += 1
                    totals["images"] += len(y)
                    if logits.dim() == 2 and not y.is_floating_point():
                        totals["correct"] += count_correct(logits.detach(), y)
                        totals["classifying"] = True
                    self._pending_losses.append((step, loss.detach()))
                    if self.check_every_step:
                        self._flush_step_losses()
                    if log_steps and step % log_steps == 0:
                        self._flush_step_losses()
                        self._print(f"[Train] epoch: {epoch}/{num_epochs}, step: {step}/"
                                    f"{num_training_steps}, loss: {self.train_step_losses[-1][1]:.5f}")
                        self._record(step=step, epoch=epoch, split="train_step",
                                     loss=self.train_step_losses[-1][1])

                    last_of_epoch = totals["batches"] == steps_per_epoch
                    if (eval_steps > 0 and step > 0 and (step % eval_steps == 0
                                                         or step == num_training_steps - 1)) \
                            or (eval_at_epoch_end and last_of_epoch):
                        self.stopwatch.stop(sync=True)
                        self._flush_step_losses()
                        self.saved_best |= self._evaluate_and_keep_best(dev_loader, step, epoch,
                                                                        save_path)
                        self.stopwatch.start()
                    self.global_step = step + 1
                    self.train_images += len(y)
                    # Callbacks (checkpoints) are not training time. No device sync here: that would
                    # stall a GPU every step; the epoch-end stop below waits for the queued work.
                    self.stopwatch.stop()
                    self._trigger("on_step_end", train_loader)
                    self.stopwatch.start()

                self.stopwatch.stop(sync=True)
                self._bar = None
                self._flush_step_losses()
                # Each process saw its share of the batches: sum the counts over all of them.
                loss_sum, batches, correct, images = distributed.all_reduce_sum(
                    [totals["loss"].item(), totals["batches"], int(totals["correct"]), totals["images"]])
                trn_loss = loss_sum / max(1, batches)
                self.train_epoch_losses.append(trn_loss)
                accuracy = correct / images if totals["classifying"] and images else None
                row = self._record(step=self.global_step - 1, epoch=epoch, split="train",
                                   loss=trn_loss, accuracy=accuracy)
                self.epoch = epoch + 1
                self._epoch_totals = self._zero_totals()
                self._trigger("on_epoch_end", row, train_loader)

        finally:
            self._trimmer.untrim()  # the full kernels back in the optimizer
            self.padding_only_weights_not_stepped = self._trimmer.skipped
            self._trimmer = NoTrimming()
        if not self.saved_best:  # seed 000: no dev set, so the model at the end is the one saved
            self.save_model(save_path)
        self._print("[Train] Training done!")
        self._trigger("on_train_end")

    def _zero_totals(self) -> dict:
        return {"loss": torch.zeros((), device=self.device), "batches": 0, "images": 0,
                "correct": torch.zeros((), dtype=torch.long, device=self.device),
                "classifying": False}

    # -- resuming ------------------------------------------------------------------------------
    def training_state(self, train_loader=None) -> dict:
        """Everything needed to continue this run exactly: weights, optimizer, scheduler, where
        training stands (epoch, step, position in the epoch, partial epoch sums), the records,
        and every random number generator. Plain tensors and numbers: loads with
        `torch.load(weights_only=True)`."""
        self._flush_step_losses()
        numpy_state = np.random.get_state()
        return {
            "model": unwrap_model(self.model).state_dict(),
            "optimizer": self._trimmer.optimizer_state_dict(self.optimizer),
            # where the decay of trimmed padding-only taps starts (engine/tap_trimming.py)
            "trimmed_taps": self._trimmer.resume_state(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "saved_best": self.saved_best,
            "best_score": self.best_score,
            "epoch_totals": dict(self._epoch_totals),
            "loader": train_loader.state_dict() if hasattr(train_loader, "state_dict") else None,
            "records": {"train_step_losses": self.train_step_losses,
                        "train_epoch_losses": self.train_epoch_losses,
                        "dev_scores": self.dev_scores, "dev_losses": self.dev_losses,
                        "history": self.history},
            "timing": {"train_seconds": self.stopwatch.total, "train_images": self.train_images},
            "rng": {"python": random.getstate(), "torch": torch.get_rng_state(),
                    "numpy": [numpy_state[0], torch.from_numpy(numpy_state[1].copy()),
                              *numpy_state[2:]],
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }

    def load_training_state(self, state: dict, train_loader=None) -> None:
        """Restore `training_state()`; the next `train()` call continues where it stopped."""
        self._trimmer.untrim()  # (from a callback) the optimizer holds the full kernels again
        unwrap_model(self.model).load_state_dict(state["model"])
        # The saved param groups carry the saving optimizer's implementation (fused, foreach);
        # this machine's optimizer keeps its own (e.g. fused on a CPU): the update is the same.
        implementation = [{k: g.get(k) for k in ("fused", "foreach")}
                          for g in self.optimizer.param_groups]
        self.optimizer.load_state_dict(state["optimizer"])
        for group, kept in zip(self.optimizer.param_groups, implementation):
            group.update(kept)
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.global_step = state["epoch"], state["global_step"]
        self.saved_best, self.best_score = state["saved_best"], state["best_score"]
        self._restored_taps = state.get("trimmed_taps") or {}  # (older checkpoints: none)
        self._epoch_totals = {k: v.to(self.device) if torch.is_tensor(v) else v
                              for k, v in state["epoch_totals"].items()}
        if state["loader"] is not None:
            train_loader.load_state_dict(state["loader"])
        for name, value in state["records"].items():
            setattr(self, name, list(value))
        self.stopwatch.total = state["timing"]["train_seconds"]
        self.train_images = state["timing"]["train_images"]
        rng = state["rng"]
        random.setstate(rng["python"])
        torch.set_rng_state(rng["torch"])
        np.random.set_state((rng["numpy"][0], rng["numpy"][1].numpy(), *rng["numpy"][2:]))
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self._resuming = True

    def _evaluate_and_keep_best(self, dev_loader, global_step, epoch, save_path) -> bool:
        dev_score, dev_loss = self.evaluate(dev_loader, global_step=global_step)
        self._print(f"[Evaluate] dev score: {dev_score:.5f}, dev loss: {dev_loss:.5f}")
        self._record(step=global_step, epoch=epoch, split="dev", loss=dev_loss,
                     **{self.score_column: dev_score})
        self.model.train()
        if dev_score > self.best_score:
            self.save_model(save_path)
            self._print(f"[Evaluate] best {self.score_column} performence has been updated: "
                        f"{self.best_score:.5f} --> {dev_score:.5f}")
            self.best_score = dev_score
            self._trigger("on_best", dev_score)
            return True
        return False

    # -- evaluation and prediction -------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, dev_loader, **kwargs):
        """Return (score, loss) over `dev_loader`; the loss is the per-sample mean."""
        assert self.metric is not None
        model = self.eval_model
        model.eval()
        global_step = kwargs.get("global_step", -1)
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        count = 0
        self.metric.reset()
        for X, y in dev_loader:
            X, y = move_batch(X, y, self.device, self.channels_last)
            with self.autocast():
                logits = forward(model, X, self.test_time_flip)
            logits = logits.float()
            total_loss += self.loss_fn(logits, y).double() * len(y)
            count += len(y)
            self.metric.update(logits, y)
        dev_loss = (total_loss / max(1, count)).item()
        dev_score = self.metric.accumulate()
        if global_step != -1:
            self.dev_losses.append((global_step, dev_loss))
        self.dev_scores.append(dev_score)
        return dev_score, dev_loss

    @torch.no_grad()
    def predict(self, x, **kwargs):
        """Logits for a batch `x` (moved to the runner's device)."""
        self.eval_model.eval()
        x = move_inputs(x, self.device, self.channels_last)
        with self.autocast():
            return forward(self.eval_model, x, self.test_time_flip).float()

    # -- saving --------------------------------------------------------------------------------
    def save_model(self, save_path):
        """Weights to `save_path`: safetensors for *.safetensors, else a torch tensor dict."""
        if self.is_main:
            save_state_dict(save_path, self.model, self.checkpoint_metadata)
            self._trigger("on_save", save_path)
        distributed.barrier()  # no process reads a checkpoint before it is complete

    def load_model(self, model_path):
        state = load_state_dict(model_path, device=self.device)
        unwrap_model(self.model).load_state_dict(state)

    # -- records, callbacks, progress ----------------------------------------------------------
    def _flush_step_losses(self):
        """Read pending step losses from the device; stop on the first non-finite one."""
        if not self._pending_losses:
            return
        values = torch.stack([loss for _, loss in self._pending_losses]).float().tolist()
        steps = [s for s, _ in self._pending_losses]
        self._pending_losses = []
        for step, value in zip(steps, values):
            if not math.isfinite(value):
                raise NonFiniteLossError(step, self.epoch, value)
            self.train_step_losses.append((step, value))

    def _print(self, line: str) -> None:
        if self.course_log:
            self.write(line)

    def write(self, line: str) -> None:
        """Print a line (rank 0 only), above the progress bar when one is shown, so the two
        never overwrite each other."""
        if not self.is_main:
            return
        if self._bar is not None:
            self._bar.write(line)
        else:
            print(line)

    def _record(self, **row) -> dict:
        row["lr"] = self.optimizer.param_groups[0]["lr"]
        self.history.append(row)
        self._trigger("on_metrics", row)
        return row

    def _trigger(self, event: str, *args):
        for callback in self.callbacks:
            handler = getattr(callback, event, None)
            if handler is not None:
                handler(self, *args)

    def _progress(self, loader, epoch, num_epochs):
        if not self.progress:
            return loader
        from tqdm import tqdm

        self._bar = tqdm(loader, desc=f"epoch {epoch + 1}/{num_epochs}", leave=False,
                         unit="batch", disable=not self.is_main)
        return self._bar


def forward(model, x: torch.Tensor, test_time_flip: bool = False) -> torch.Tensor:
    """The model's output, or with `test_time_flip` the mean of it and its left-right mirror's."""
    if not test_time_flip:
        return model(x)
    return (model(x) + model(x.flip(-1))) / 2


class Stopwatch:
    """Adds up the time between start() and stop() calls. On a GPU the host runs ahead of the
    device, so `stop(sync=True)` first waits for the queued work to finish."""

    def __init__(self, device: torch.device | None = None):
        self.total = 0.0
        self._since: float | None = None
        self.device = device

    def start(self) -> None:
        self._since = time.perf_counter()

    def stop(self, sync: bool = False) -> None:
        if sync and self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        if self._since is not None:
            self.total += time.perf_counter() - self._since
            self._since = None


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; names the step and epoch (`step` and `epoch`
    are the Runner's 0-based counters; the message counts from 1, as the CLI's lines do)."""

    def __init__(self, step: int, epoch: int, value: float):
        self.step, self.epoch, self.value = step, epoch, value
        super().__init__(f"the loss became {value} at step {step + 1} (epoch {epoch + 1}); "
                         "training stopped. Lower the learning rate (e.g. --lr), check the data for "
                         "extreme values, or use --precision fp32.")


# Seed 001 calls it RunnerV3; the same class serves both courses.
RunnerV3 = Runner
