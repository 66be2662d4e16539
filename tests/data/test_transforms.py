import torch

from trainlab.data import Split, TensorLoader
from trainlab.data.transforms import augment, crop_padding, normalize


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_normalize_matches_per_sample_totensor_normalize():
    from torchvision.transforms import functional as TF

    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.25, 0.3])
    expected = torch.stack([TF.normalize(img.float() / 255, mean.tolist(), std.tolist())
                            for img in images])
    torch.testing.assert_close(normalize(images, mean, std), expected)


def test_random_crop_shifts_content_within_padding():
    images = torch.zeros(64, 1, 16, 16, dtype=torch.uint8)
    images[:, :, 7, 7] = 255  # one bright pixel
    assert crop_padding(16) == 2
    cropped = augment(images, "crop", gen())
    assert cropped.shape == images.shape and cropped.dtype == torch.uint8
    positions = {tuple(torch.nonzero(c[0])[0].tolist()) for c in cropped if c.any()}
    assert len(positions) > 5  # samples get different shifts
    assert all(5 <= r <= 9 and 5 <= c <= 9 for r, c in positions)


def test_random_flip_mirrors_about_half():
    images = torch.arange(8, dtype=torch.uint8).view(1, 1, 1, 8).repeat(200, 1, 1, 1)
    flipped = augment(images, "flip", gen())
    mirrored = (flipped[:, 0, 0, 0] == 7).sum().item()
    assert 60 < mirrored < 140
    assert torch.equal(flipped[flipped[:, 0, 0, 0] == 7][0, 0, 0], images[0, 0, 0].flip(0))


def test_rotation_keeps_shape_and_dtype():
    images = torch.randint(0, 256, (5, 1, 12, 12), dtype=torch.uint8)
    out = augment(images, "rotation", gen())
    assert out.shape == images.shape and out.dtype == torch.uint8


def test_loader_visits_every_sample_once_per_epoch_and_is_seeded():
    split = Split(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1), torch.arange(10))
    loader = TensorLoader(split, batch_size=4, mean=(0.0,), std=(1 / 255,), shuffle=True, seed=3)
    assert len(loader) == 3
    epoch = torch.cat([y for _, y in loader])
    assert sorted(epoch.tolist()) == list(range(10))
    assert not torch.equal(epoch, torch.cat([y for _, y in loader]))  # reshuffled
    again = TensorLoader(split, batch_size=4, mean=(0.0,), std=(1 / 255,), shuffle=True, seed=3)
    assert torch.equal(epoch, torch.cat([y for _, y in again]))
    x, y = next(iter(TensorLoader(split, 10, mean=(0.0,), std=(1 / 255,))))
    torch.testing.assert_close(x.view(-1), y.float())  # (v/255 - 0) / (1/255) = v
