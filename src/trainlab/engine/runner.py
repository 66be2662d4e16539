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

import sys
import time

import torch

from .checkpoint import load_state_dict, save_state_dict, unwrap_model
from .device import autocast_factory, move_batch, resolve_device
from .metrics import count_correct


class Runner:
    def __init__(self, model, optimizer, loss_fn, metric=None, *, device="auto", scheduler=None,
                 precision="fp32", callbacks=(), progress=None, checkpoint_metadata=None):
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.metric = metric
        self.scheduler = scheduler
        self.autocast = autocast_factory(self.device, precision)
        self.callbacks = list(callbacks)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.checkpoint_metadata = checkpoint_metadata or {}
        # The course's records, with the course's names and shapes.
        self.dev_scores: list[float] = []
        self.train_epoch_losses: list[float] = []
        self.train_step_losses: list[tuple[int, float]] = []
        self.dev_losses: list[tuple[int, float]] = []
        self.best_score = 0
        # trainlab's own records: one row per logged step, evaluation and epoch.
        self.history: list[dict] = []
        self.global_step = 0
        self.train_seconds = 0.0
        self.train_images = 0
        self._pending_losses: list[tuple[int, torch.Tensor]] = []

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
        evaluating = bool(eval_steps) or eval_at_epoch_end
        if evaluating:
            if self.metric is None:
                raise RuntimeError("Error: Metric can not be None!")
            if dev_loader is None:
                raise RuntimeError("Error: dev_loader can not be None!")

        global_step = 0
        saved_best = False
        self.model.train()
        for epoch in range(num_epochs):
            started = time.perf_counter()
            total_loss = torch.zeros((), device=self.device)
            correct = torch.zeros((), dtype=torch.long, device=self.device)
            seen = 0
            classifying = False
            for step, (X, y) in enumerate(self._progress(train_loader, epoch, num_epochs)):
                X, y = move_batch(X, y, self.device)
                with self.autocast():
                    logits = self.model(X)
                    loss = self.loss_fn(logits, y)
                loss.backward()
                if custom_print_log:
                    custom_print_log(self)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                if self.scheduler is not None:
                    self.scheduler.step()

                total_loss += loss.detach()
                classifying = logits.dim() == 2 and not y.is_floating_point()
                if classifying:
                    correct += count_correct(logits.detach(), y)
                seen += len(y)
                self._pending_losses.append((global_step, loss.detach()))
                if log_steps and global_step % log_steps == 0:
                    self._flush_step_losses()
                    print(f"[Train] epoch: {epoch}/{num_epochs}, step: {global_step}/"
                          f"{num_training_steps}, loss: {self.train_step_losses[-1][1]:.5f}")
                    self._record(step=global_step, epoch=epoch, split="train_step",
                                 loss=self.train_step_losses[-1][1])

                last_of_epoch = step == steps_per_epoch - 1
                if (eval_steps > 0 and global_step > 0 and (global_step % eval_steps == 0
                                                             or global_step == num_training_steps - 1)) \
                        or (eval_at_epoch_end and last_of_epoch):
                    self.train_seconds += time.perf_counter() - started
                    saved_best |= self._evaluate_and_keep_best(dev_loader, global_step, epoch,
                                                               save_path)
                    started = time.perf_counter()
                global_step += 1
                self.global_step = global_step

            self.train_seconds += time.perf_counter() - started
            self.train_images += seen
            self._flush_step_losses()
            trn_loss = (total_loss / max(1, steps_per_epoch)).item()
            self.train_epoch_losses.append(trn_loss)
            row = self._record(step=global_step - 1, epoch=epoch, split="train", loss=trn_loss,
                               accuracy=correct.item() / seen if classifying else None)
            self._trigger("on_epoch_end", row)

        if not saved_best:  # seed 000: no dev set, so the model at the end is the one saved
            self.save_model(save_path)
        print("[Train] Training done!")
        self._trigger("on_train_end")

    def _evaluate_and_keep_best(self, dev_loader, global_step, epoch, save_path) -> bool:
        dev_score, dev_loss = self.evaluate(dev_loader, global_step=global_step)
        print(f"[Evaluate] dev score: {dev_score:.5f}, dev loss: {dev_loss:.5f}")
        self._record(step=global_step, epoch=epoch, split="dev", loss=dev_loss, accuracy=dev_score)
        self.model.train()
        if dev_score > self.best_score:
            self.save_model(save_path)
            print(f"[Evaluate] best accuracy performence has been updated: "
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
        self.model.eval()
        global_step = kwargs.get("global_step", -1)
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        count = 0
        self.metric.reset()
        for X, y in dev_loader:
            X, y = move_batch(X, y, self.device)
            with self.autocast():
                logits = self.model(X)
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
        self.model.eval()
        x = x.to(self.device)
        if not x.is_floating_point():
            x = x.float()
        with self.autocast():
            return self.model(x).float()

    # -- saving --------------------------------------------------------------------------------
    def save_model(self, save_path):
        """Weights to `save_path`: safetensors for *.safetensors, else a torch tensor dict."""
        save_state_dict(save_path, self.model, self.checkpoint_metadata)
        self._trigger("on_save", save_path)

    def load_model(self, model_path):
        state = load_state_dict(model_path, device=self.device)
        unwrap_model(self.model).load_state_dict(state)

    # -- records, callbacks, progress ----------------------------------------------------------
    def _flush_step_losses(self):
        if self._pending_losses:
            values = torch.stack([loss for _, loss in self._pending_losses]).float().tolist()
            self.train_step_losses += [(s, v) for (s, _), v in zip(self._pending_losses, values)]
            self._pending_losses = []

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

        return tqdm(loader, desc=f"epoch {epoch + 1}/{num_epochs}", leave=False, unit="batch")


# Seed 001 calls it RunnerV3; the same class serves both courses.
RunnerV3 = Runner
