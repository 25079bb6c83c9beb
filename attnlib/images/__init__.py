"""Generated image and video tasks and the small models trained on them (course tooling).

Inside:

- :mod:`.tasks` -- seeded generators: :func:`same_row_task` (is the marked pixel in the
  bright bar's row?), :func:`flash_video_task` (in which quadrant does the cross
  flash, in a video with a moving distractor?) and :func:`brightest_cross_task` (in
  which quadrant is the brightest of the crosses, one a frame?)
- :mod:`.models` -- :class:`SmallCNN`, a two-layer CNN with a pluggable attention block
  (:data:`ATTENTIONS`: none, SE, coordinate, axial), and :class:`FrameClassifier`, a
  frame encoder pooled over time by temporal attention or by the mean
- :mod:`.training` -- :func:`train` (Adam, a fixed number of steps, seeded batches)
  and :func:`accuracy`
"""

from .models import ATTENTIONS, POOLS, FrameClassifier, SmallCNN
from .tasks import (BrightestCrossTask, FlashVideoTask, SameRowTask, brightest_cross_task,
                    flash_video_task, same_row_task)
from .training import TrainResult, accuracy, train

__all__ = ["ATTENTIONS", "POOLS", "BrightestCrossTask", "FlashVideoTask", "FrameClassifier",
           "SameRowTask", "SmallCNN", "TrainResult", "accuracy", "brightest_cross_task", "flash_video_task",
           "same_row_task", "train"]
