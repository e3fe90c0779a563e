"""Mask selection: the penalty score of ISO/IEC 18004 section 7.8.3, for all 8 masks at once.

Every mask gives a valid symbol; the score only picks the one least likely to
confuse a reader. All four rules are evaluated, vectorised over the eight
candidates (rows and columns together):

1. runs of 5 or more same-coloured modules in a row or column: 3 + (run - 5);
2. 2x2 blocks of one colour: 3 each;
3. the finder-like sequence dark:light:dark:dark:dark:light:dark with 4 light
   modules on one side: 40 for each side that has them. Beyond the symbol
   edge counts as light (it is the quiet zone);
4. the share of dark modules: 10 per full 5 % away from 50 %.

Rules 1 and 3 are read from one run-length encoding of every line.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def penalties(candidates: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Penalty of each symbol in ``candidates`` (shape ``(masks, size, size)``)."""
    count, size, _ = candidates.shape
    lines = np.concatenate([candidates, candidates.transpose(0, 2, 1)], axis=1)
    flat = lines.reshape(-1)
    line_length = size

    # Run starts: every line start, and every change of colour within a line.
    change = np.empty(flat.shape, np.bool_)
    change[0] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    change[::line_length] = True
    starts = np.flatnonzero(change)
    lengths = np.diff(starts, append=flat.size)
    colours = flat[starts]
    owner = starts // (2 * size * size)  # which candidate a run belongs to
    line = starts // line_length

    long_runs = lengths >= 5
    rule1 = np.bincount(owner[long_runs], weights=lengths[long_runs] - 2, minlength=count)

    # Rule 3 on runs: dark, light 1, dark 3, light 1, dark within one line. The outer
    # dark runs must be 1 long on the side whose light margin is counted (the other
    # may be longer: 11011101 followed by 4 light counts once).
    pattern = colours[:-4] & (line[:-4] == line[4:])
    for offset, expected in ((1, 1), (2, 3), (3, 1)):
        pattern &= lengths[offset : len(lengths) - 4 + offset] == expected
    first = np.flatnonzero(pattern)
    last = first + 4
    # The light run beside the core (if the core does not touch the edge) must be
    # 4 long, or reach the edge: the quiet zone beyond it is light too.
    before = (first - 1).clip(0)
    light_before = (lengths[first] == 1) & (
        (starts[first] % line_length == 0)
        | (lengths[before] >= 4)
        | (starts[before] % line_length == 0)
    )
    line_end = (line[first] + 1) * line_length
    after = (last + 1).clip(0, len(starts) - 1)
    light_after = (lengths[last] == 1) & (
        (starts[last] + 1 == line_end)
        | (lengths[after] >= 4)
        | (starts[after] + lengths[after] == line_end)
    )
    rule3 = 40 * np.bincount(
        owner[first], weights=light_before.astype(np.int64) + light_after, minlength=count
    )

    same_right = candidates[:, :, 1:] == candidates[:, :, :-1]
    blocks = same_right[:, 1:, :] & same_right[:, :-1, :]
    blocks &= candidates[:, 1:, :-1] == candidates[:, :-1, :-1]
    rule2 = 3 * blocks.sum(axis=(1, 2))

    dark = candidates.sum(axis=(1, 2))
    area = size * size
    rule4 = 10 * (np.abs(dark * 20 - area * 10) // area)  # floor(|dark % - 50| / 5)

    total: npt.NDArray[np.int64] = (rule1 + rule3).astype(np.int64) + rule2 + rule4
    return total
