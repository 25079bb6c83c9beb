"""attnlib.images: the generated tasks say what they claim, the models and the loop work."""

import pytest
import torch

from attnlib import images


def circular(a, b, n):
    d = (a - b).abs()
    return torch.minimum(d, n - d)


def test_same_row_task_labels_follow_the_positions():
    t = images.same_row_task(400, size=12, seed=3)
    assert torch.equal(t.images, images.same_row_task(400, size=12, seed=3).images)
    assert not torch.equal(t.images, images.same_row_task(400, size=12, seed=4).images)
    assert torch.equal(t.labels, (t.marker[:, 0] == t.bright[:, 0]).long())
    assert 0.4 < t.labels.float().mean() < 0.6
    negatives = t.labels == 0
    hard = (t.marker[:, 0] == t.dim[:, 0]) & negatives
    assert 0.35 < hard.sum() / negatives.sum() < 0.65  # half the negatives: the dim bar's row
    n = torch.arange(400)
    assert (t.images[n, 1, t.marker[:, 0], t.marker[:, 1]] == 1).all()
    assert t.images[:, 1].sum() == 400
    for k in range(3):
        scene = t.images[n, 0]
        assert (scene[n, t.bright[:, 0], t.bright[:, 1] + k] > 0.7).all()
        assert ((scene[n, t.dim[:, 0], t.dim[:, 1] + k] - 0.5).abs() < 0.25).all()


def test_same_row_task_keeps_the_marker_out_of_every_3x3_window_with_a_bar():
    t = images.same_row_task(300, size=12, reach=2, seed=0)
    for bars in (t.bright, t.dim):
        rows = circular(t.marker[:, 0], bars[:, 0], 12)
        cols = torch.stack([circular(t.marker[:, 1], bars[:, 1] + k, 12) for k in range(3)])
        assert (torch.maximum(rows, cols.amin(0)) > 2).all()


def test_flash_video_task():
    t = images.flash_video_task(50, frames=6, size=8, noise=0.0, seed=1)
    assert t.videos.shape == (50, 6, 1, 8, 8)
    assert torch.equal(t.videos, images.flash_video_task(50, frames=6, size=8, noise=0.0,
                                                         seed=1).videos)
    crosses = (t.videos == -1).sum((2, 3, 4))  # (N, T): pixels of the cross per frame
    assert torch.equal(crosses.argmax(1), t.flash_frame) and (crosses.amax(1) >= 4).all()
    assert (crosses.sum(1) == crosses.amax(1)).all()  # in one frame only
    squares = (t.videos == 1).sum((2, 3, 4))  # the moving square, 2x2, in every frame
    others = torch.ones(50, 6, dtype=torch.bool)
    others[torch.arange(50), t.flash_frame] = False  # the cross may cover it in its frame
    assert (squares[others] == 4).all()
    for i in range(50):
        rows, cols = torch.nonzero(t.videos[i, t.flash_frame[i], 0] == -1, as_tuple=True)
        quadrant = (rows.float().mean() >= 4).long() * 2 + (cols.float().mean() >= 4).long()
        assert quadrant == t.labels[i]


def quadrant_of(rows, cols, size):
    return (rows.float().mean() >= size // 2).long() * 2 + (cols.float().mean() >= size // 2).long()


def test_brightest_cross_task_labels_the_quadrant_of_the_brightest_cross():
    t = images.brightest_cross_task(60, frames=5, size=8, noise=0.0, seed=2)
    assert t.videos.shape == (60, 5, 1, 8, 8)
    assert torch.equal(t.videos, images.brightest_cross_task(60, frames=5, size=8, noise=0.0,
                                                             seed=2).videos)
    assert not torch.equal(t.videos, images.brightest_cross_task(60, frames=5, size=8,
                                                                 noise=0.0, seed=3).videos)
    lit = t.videos[:, :, 0] > 0  # (N, T, S, S): the crosses' pixels, nothing else
    assert (lit.sum((2, 3)) == 5).all()
    for i in range(60):
        for f in range(5):
            rows, cols = torch.nonzero(lit[i, f], as_tuple=True)
            r, c = rows.float().mean().long(), cols.float().mean().long()  # the centre
            plus = {(r.item() + dr, c.item() + dc)
                    for dr, dc in ((0, -1), (0, 0), (0, 1), (-1, 0), (1, 0))}
            assert set(zip(rows.tolist(), cols.tolist())) == plus
            assert quadrant_of(rows, cols, 8) == t.quadrants[i, f]
            torch.testing.assert_close(t.videos[i, f, 0, r, c], t.brightness[i, f])
    brightest = t.videos.amax((2, 3, 4)).argmax(1)  # read from the pixels
    assert torch.equal(brightest, t.brightest)
    assert torch.equal(t.labels, t.quadrants[torch.arange(60), brightest])


def test_brightest_cross_task_levels_overlap_across_videos_but_not_inside_one():
    gap, spread, low = 0.15, 0.15, 0.2
    t = images.brightest_cross_task(400, gap=gap, spread=spread, low=low, seed=0)
    assert t.videos.shape == (400, 16, 1, 8, 8)
    level = t.brightness.double()
    top = level.amax(1, keepdim=True)
    others = level.masked_fill(level == top, float("nan"))
    lead = top[:, 0] - others.nan_to_num(-1.0).amax(1)
    assert (lead >= gap - 1e-6).all()  # inside a video the brightest leads by the gap...
    assert (top[:, 0] - others.nan_to_num(2.0).amin(1) <= gap + spread + 1e-6).all()
    assert (top >= low + gap + spread - 1e-6).all() and (top <= 1.0).all()
    dim_tops = (top[:, 0] < 0.6).sum()
    bright_others = (others.nan_to_num(0.0) > 0.6).any(1).sum()
    assert dim_tops > 20 and bright_others > 20  # ...across videos their levels overlap
    counts = torch.bincount(t.brightest, minlength=16)  # any frame may hold it
    assert counts.min() > 8 and torch.bincount(t.labels, minlength=4).min() > 70


@pytest.mark.parametrize("attention", images.ATTENTIONS)
def test_small_cnn_shapes_maps_and_shift_invariance(attention):
    torch.manual_seed(0)
    model = images.SmallCNN(attention, channels=8).eval()
    x = images.same_row_task(4, seed=0).images
    logits = model(x)
    assert logits.shape == (4, 2)
    f, maps = model.features(x)
    assert f.shape == (4, 8, 12, 12)
    shapes = {"none": {}, "se": {"gate": (4, 8, 1, 1)},
              "ca": {"rows": (4, 8, 12, 1), "columns": (4, 8, 1, 12)},
              "axial": {"width": (4, 12, 2, 12, 12), "height": (4, 12, 2, 12, 12)}}
    assert {k: tuple(v.shape) for k, v in maps.items()} == shapes[attention]
    # circular padding: a cyclic shift of the image changes nothing
    shifted = torch.roll(x, shifts=(3, 5), dims=(2, 3))
    torch.testing.assert_close(model(shifted), logits, rtol=1e-4, atol=1e-5)


def test_frame_classifier_weights():
    torch.manual_seed(0)
    t = images.flash_video_task(3, seed=0)
    logits, w = images.FrameClassifier("attention")(t.videos)
    assert logits.shape == (3, 4) and w.shape == (3, 8)
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    logits, w = images.FrameClassifier("attention")(images.brightest_cross_task(3).videos)
    assert logits.shape == (3, 4) and w.shape == (3, 16)  # any number of frames
    logits, w = images.FrameClassifier("mean")(t.videos)
    assert w is None


@pytest.fixture
def one_thread():
    """Tiny models: one thread is faster, and far faster on a shared, loaded CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_train_is_reproducible_and_learns(one_thread):
    t = images.flash_video_task(64, seed=0)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = images.FrameClassifier("attention")
        runs.append(images.train(model, t.videos, t.labels, steps=25, batch_size=16, seed=1))
    assert runs[0].losses == runs[1].losses and runs[0].steps == 25
    assert sum(runs[0].losses[-5:]) < sum(runs[0].losses[:5])
    assert 0.0 <= images.accuracy(model, t.videos, t.labels) <= 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="`attention` must be one of"):
        images.SmallCNN("cbam")
    with pytest.raises(ValueError, match="`pool` must be one of"):
        images.FrameClassifier("max")
    with pytest.raises(ValueError, match="`size` must be at least"):
        images.same_row_task(4, size=6)
    with pytest.raises(ValueError, match="`size` must be an even number"):
        images.flash_video_task(4, size=7)
    with pytest.raises(ValueError, match="`size` must be an even number"):
        images.brightest_cross_task(4, size=4)
    with pytest.raises(ValueError, match="`gap` must be > 0 and `low \\+ gap \\+ spread` < 1"):
        images.brightest_cross_task(4, gap=0.0)
    with pytest.raises(ValueError, match="`low \\+ gap \\+ spread` < 1"):
        images.brightest_cross_task(4, low=0.5, gap=0.3, spread=0.2)
    with pytest.raises(ValueError, match="`spread` must be a finite number >= 0"):
        images.brightest_cross_task(4, spread=-0.1)
    with pytest.raises(ValueError, match=r"`x` must have channels C \(dim 1\) = 2"):
        images.SmallCNN()(torch.randn(1, 3, 12, 12))
    with pytest.raises(ValueError, match=r"`videos` must be 5-D with shape \(B, T, 1, S, S\)"):
        images.FrameClassifier()(torch.randn(2, 8, 8, 8))
    with pytest.raises(ValueError, match=r"`videos` must have one channel \(dim 2\) = 1"):
        images.FrameClassifier()(torch.randn(2, 8, 3, 8, 8))
    with pytest.raises(TypeError, match="`videos` must be a torch.Tensor"):
        images.FrameClassifier()([[0.0]])
    model = images.SmallCNN()
    with pytest.raises(ValueError, match="`labels` must be int64 of shape"):
        images.train(model, torch.randn(4, 2, 12, 12), torch.zeros(3, dtype=torch.long), steps=1)
    with pytest.raises(ValueError, match="`steps` must be a positive int"):
        images.train(model, torch.randn(4, 2, 12, 12), torch.zeros(4, dtype=torch.long), steps=0)
