"""Training losses of the codec."""
from sptok.losses.distill import (align_frames, codec_num_frames, d_axis_distill_loss,
                                  t_axis_distill_loss, teacher_num_frames)
