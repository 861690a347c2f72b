"""Choosing a decision threshold from scores on training data only.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 0, 1, 1, 1], dtype=bool)
>>> s = np.array([0.1, 0.2, 0.6, 0.5, 0.8, 0.9])
>>> round(choose_threshold(s, y, "youden"), 3)
0.5
>>> round(choose_threshold(s, y, "far:0.0"), 3)
0.8
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["choose_threshold"]


def choose_threshold(
    scores: npt.NDArray[np.float64], is_attack: npt.NDArray[np.bool_], objective: str
) -> float:
    """Return the score threshold that best meets ``objective`` on these (training) scores.

    Parameters
    ----------
    scores
        Out-of-fold attack scores of training rows.
    is_attack
        True where the row is an attack.
    objective
        ``"youden"`` maximises detection rate minus false alarm rate; ``"f1"`` maximises F1;
        ``"far:X"`` gives the highest detection rate whose false alarm rate is at most X.
    """
    pos = int(is_attack.sum())
    neg = int((~is_attack).sum())
    if pos == 0 or neg == 0:
        return 0.5
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    y = is_attack[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    # Only cut between distinct scores: candidate i flags rows 0..i.
    last_of_run = np.r_[s[1:] != s[:-1], True]
    tp, fp, cut = tp[last_of_run], fp[last_of_run], s[last_of_run]
    tpr = tp / pos
    fpr = fp / neg
    if objective == "youden":
        best = int(np.argmax(tpr - fpr))
    elif objective == "f1":
        f1 = 2 * tp / (2 * tp + fp + (pos - tp))
        best = int(np.argmax(f1))
    elif objective.startswith("far:"):
        budget = float(objective.split(":", 1)[1])
        ok = np.flatnonzero(fpr <= budget)
        if ok.size == 0:
            return float(np.nextafter(s[0], np.inf))
        best = int(ok[np.argmax(tpr[ok])])
    else:
        raise ValueError(f"unknown threshold objective {objective!r}: use youden, f1 or far:X")
    return float(cut[best])
