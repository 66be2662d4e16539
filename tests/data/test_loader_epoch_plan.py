"""TensorLoader draws each epoch's order and augmentation numbers at once (no per-step host
sync on a GPU); resuming, multi-process slicing and the memory layout stay exact."""
import torch

from trainlab.data import Split, TensorLoader
from trainlab.data.transforms import normalize
from trainlab.engine.distributed import ProcessCountError, check_gpu_count


def split(n=40, size=8):
    images = torch.randint(0, 256, (n, 1, size, size), generator=torch.Generator().manual_seed(1),
                           dtype=torch.uint8)
    return Split(images, torch.arange(n))


def loader(**kwargs):
    args = dict(batch_size=8, mean=(0.5,), std=(0.25,), shuffle=True, augment="crop-flip", seed=7)
    return TensorLoader(split(), **{**args, **kwargs})


def test_resume_mid_epoch_gives_the_same_batches():
    reference = loader()
    [x for x, _ in reference]  # epoch 1
    second_epoch = [x for x, _ in reference]
    stopped = loader()
    [x for x, _ in stopped]  # epoch 1
    epoch_two = iter(stopped)
    taken = [next(epoch_two)[0] for _ in range(2)]  # two batches of epoch 2, then "crash"
    state = stopped.state_dict()
    resumed = loader(seed=999)  # the state, not the seed, decides
    resumed.load_state_dict(state)
    rest = [x for x, _ in resumed]
    assert len(taken) + len(rest) == len(second_epoch)
    for ours, theirs in zip(taken + rest, second_epoch):
        assert torch.equal(ours, theirs)


def test_peek_leaves_fresh_mid_epoch_and_resumed_loaders_where_they_were():
    # --compile's warm-up peeks at a batch before training, also right after a resume
    reference = loader()
    [x for x, _ in reference]  # epoch 1
    second_epoch = [x for x, _ in reference]

    fresh = loader()
    assert fresh.peek()[0].shape == (8, 1, 8, 8)
    [x for x, _ in fresh]  # epoch 1, after the peek
    assert all(torch.equal(a, b) for (a, _), b in zip(fresh, second_epoch))

    stopped = loader()
    [x for x, _ in stopped]
    epoch_two = iter(stopped)
    taken = [next(epoch_two)[0] for _ in range(2)]
    state = stopped.state_dict()
    resumed = loader(seed=999)
    resumed.load_state_dict(state)
    peeked = resumed.peek()[0]
    assert peeked.shape == (8, 1, 8, 8)
    rest = [x for x, _ in resumed]  # batches 3-5 of epoch 2, as without the peek
    assert len(taken) + len(rest) == len(second_epoch)
    assert all(torch.equal(a, b) for a, b in zip(taken + rest, second_epoch))
    assert loader(drop_last=True, batch_size=64).peek() is None  # 40 images: no batch at all


def test_processes_together_see_one_process_batches_with_their_augmentation():
    single = list(loader(batch_size=8))
    ranks = [list(loader(batch_size=4, rank=r, world_size=2)) for r in range(2)]
    for k, (x, y) in enumerate(single):
        parts = [ranks[r][k] for r in range(2)]
        got_x, got_y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        order = torch.argsort(got_y)
        expected = torch.argsort(y)
        assert torch.equal(got_y[order], y[expected])
        assert torch.equal(got_x[order], x[expected])  # the same crop and flip per image


def test_channels_last_batches_hold_the_same_values():
    plain, last = loader(augment="none"), loader(augment="none", channels_last=True)
    for (a, _), (b, _) in zip(plain, last):
        assert b.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(a, b)
    images = split().images
    torch.testing.assert_close(normalize(images, (0.5,), (0.25,)),
                               (images.float() / 255 - 0.5) / 0.25)


def test_more_processes_than_gpus_is_refused_in_one_sentence(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    try:
        check_gpu_count(2, torch.device("cuda"))
    except ProcessCountError as error:
        message = str(error)
    else:
        raise AssertionError("2 processes on 1 GPU were not refused")
    assert "--nproc 2 needs 2 GPUs" in message and "--device cpu --nproc 2" in message
    check_gpu_count(4, torch.device("cpu"))  # CPU processes need no GPU
